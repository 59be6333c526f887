package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// slowPages serves a list of pods (or replica sets, or events about pod
// p0, when asked for them) one per page, each page after delay, at revision 7. With compactAt set,
// the continue token of that page has expired, and a list in one request
// is at revision 8. Other kinds list empty; Get and Update answer at once.
type slowPages struct {
	skiffv1.UnimplementedObjectsServer
	pages     int
	delay     atomic.Int64 // nanoseconds
	compactAt atomic.Int64 // 0: never
	whole     atomic.Int64 // lists in one request served
}

func (s *slowPages) List(ctx context.Context, req *skiffv1.ListRequest) (*skiffv1.ListResponse, error) {
	select {
	case <-time.After(time.Duration(s.delay.Load())):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if k := req.GetKind(); k != skiffv1.Kind_KIND_POD && k != skiffv1.Kind_KIND_REPLICA_SET && k != skiffv1.Kind_KIND_EVENT {
		return &skiffv1.ListResponse{ResourceVersion: "7"}, nil
	}
	pod := func(i int) *skiffv1.Object { return slowObject(req.GetKind(), fmt.Sprintf("p%d", i)) }
	if req.GetLimit() == 0 {
		s.whole.Add(1)
		resp := &skiffv1.ListResponse{ResourceVersion: "8"}
		for i := range s.pages {
			resp.Items = append(resp.Items, pod(i))
		}
		return resp, nil
	}
	i, _ := strconv.Atoi(req.GetContinue())
	if i > 0 && int64(i) == s.compactAt.Load() {
		return nil, status.Error(codes.OutOfRange, "the continue token's revision was compacted")
	}
	resp := &skiffv1.ListResponse{ResourceVersion: "7", Items: []*skiffv1.Object{pod(i)}}
	if i+1 < s.pages {
		resp.Continue = strconv.Itoa(i + 1)
	}
	return resp, nil
}

// slowObject is the pod, replica set or event name.
func slowObject(kind skiffv1.Kind, name string) *skiffv1.Object {
	m := &skiffv1.ObjectMeta{Namespace: "default", Name: name, ResourceVersion: "7"}
	switch kind {
	case skiffv1.Kind_KIND_REPLICA_SET:
		return skiffv1.Wrap(&skiffv1.ReplicaSet{Metadata: m, Spec: &skiffv1.ReplicaSetSpec{}})
	case skiffv1.Kind_KIND_EVENT:
		return skiffv1.Wrap(&skiffv1.Event{Metadata: m, Type: "Normal", Reason: "Seen", Message: "event " + name,
			InvolvedObject: &skiffv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p0"}})
	}
	return skiffv1.Wrap(&skiffv1.Pod{Metadata: m})
}

func (s *slowPages) Get(ctx context.Context, req *skiffv1.GetRequest) (*skiffv1.Object, error) {
	return slowObject(req.GetKind(), req.GetName()), nil
}

func (s *slowPages) Update(ctx context.Context, req *skiffv1.UpdateRequest) (*skiffv1.Object, error) {
	return req.GetObject(), nil
}

// Delete answers that the object is gone (without delay).
func (s *slowPages) Delete(ctx context.Context, req *skiffv1.DeleteRequest) (*skiffv1.DeleteResponse, error) {
	return &skiffv1.DeleteResponse{Deleted: true}, nil
}

// serveSlowPages runs srv on loopback and returns a runner for it.
func serveSlowPages(t *testing.T, srv *slowPages) *runner {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	skiffv1.RegisterObjectsServer(g, srv)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return &runner{t: t, addr: lis.Addr().String(), now: time.Now()}
}

// A list that a compaction splits half-way is printed once, every pod
// once: a table from the pages after the last one printed, a whole-list
// format from a list read again in one request.
func TestGetPagedAcrossACompaction(t *testing.T) {
	srv := &slowPages{pages: 6}
	srv.compactAt.Store(3)
	r := serveSlowPages(t, srv)
	res := r.run("get", "pods", "-A", "--chunk-size", "1", "--no-headers", "-o", "name")
	if res.e != nil || res.out != "pod/p0\npod/p1\npod/p2\npod/p3\npod/p4\npod/p5\n" || srv.whole.Load() != 1 {
		t.Fatalf("names across a compaction, %d lists in one request: %+v", srv.whole.Load(), res)
	}
	srv.whole.Store(0)
	res = r.run("get", "pods", "-A", "--chunk-size", "1", "-o", "yaml")
	if res.e != nil || strings.Count(res.out, "kind: Pod") != 6 || srv.whole.Load() != 2 {
		t.Fatalf("YAML across a compaction, %d lists in one request (want the rest, then all again): %+v", srv.whole.Load(), res)
	}
}

// --request-timeout bounds the wait for each page of a paged list, not
// the whole list; a page that does not come in time is an error that
// says what to do.
func TestGetPagedTimeoutIsPerPage(t *testing.T) {
	srv := &slowPages{pages: 6}
	srv.delay.Store(int64(500 * time.Millisecond))
	r := serveSlowPages(t, srv)

	start := time.Now()
	res := r.run("get", "pods", "-A", "--chunk-size", "1", "--request-timeout", "2s")
	if res.e != nil || strings.Count(res.out, "\n") != 7 || !strings.Contains(res.out, "p5") {
		t.Fatalf("six pages of 500 ms with a 2 s timeout (took %s): %+v", time.Since(start), res)
	}
	// Formats that need the whole list first read it the same way.
	res = r.run("get", "pods", "-A", "--chunk-size", "1", "--request-timeout", "2s", "-o", "yaml")
	if res.e != nil || strings.Count(res.out, "kind: Pod") != 6 {
		t.Fatalf("six pages of 500 ms with a 2 s timeout, as YAML: %+v", res)
	}
	// So do delete -l's.
	res = r.run("delete", "pods", "-l", "app=web", "-A", "--request-timeout", "2s")
	if res.e != nil || strings.Count(res.out, " deleted\n") != 6 {
		t.Fatalf("delete -l over six pages of 500 ms with a 2 s timeout: %+v", res)
	}
	// And label --all's and scale -l's, which then change each object
	// under a timeout of its own.
	res = r.run("label", "pods", "--all", "tier=front", "--request-timeout", "2s")
	if res.e != nil || strings.Count(res.out, " labeled\n") != 6 {
		t.Fatalf("label --all over six pages of 500 ms with a 2 s timeout: %+v", res)
	}
	res = r.run("scale", "rs", "-l", "app=web", "--replicas", "3", "--request-timeout", "2s")
	if res.e != nil || strings.Count(res.out, " scaled\n") != 6 {
		t.Fatalf("scale -l over six pages of 500 ms with a 2 s timeout: %+v", res)
	}
	// describe's events too.
	res = r.run("describe", "pod", "p0", "--request-timeout", "2s")
	if res.e != nil || strings.Count(res.out, "  event p") != 6 {
		t.Fatalf("describe with six pages of events of 500 ms, a 2 s timeout: %+v", res)
	}
	srv.delay.Store(int64(5 * time.Second))
	res = r.run("describe", "pod", "p0", "--request-timeout", "300ms")
	if res.e == nil || !strings.Contains(res.err, "no page of the event list came in 300ms") {
		t.Fatalf("describe, a page of events slower than the timeout: %+v", res)
	}
	res = r.run("label", "pods", "--all", "tier=front", "--request-timeout", "300ms")
	if res.e == nil || !strings.Contains(res.err, "no page of the pod list came in 300ms") {
		t.Fatalf("label --all, a page slower than the timeout: %+v", res)
	}
	res = r.run("get", "pods", "-A", "--chunk-size", "1", "--request-timeout", "300ms")
	if res.e == nil || !strings.Contains(res.err, "no page of the pod list came in 300ms") || !strings.Contains(res.err, "raise --request-timeout") {
		t.Fatalf("a page slower than the timeout: %+v", res)
	}
	res = r.run("get", "pods", "-A", "--chunk-size", "1", "--request-timeout", "300ms", "-o", "yaml")
	if res.e == nil || !strings.Contains(res.err, "no page of the pod list came in 300ms") {
		t.Fatalf("a page slower than the timeout, as YAML: %+v", res)
	}
}
