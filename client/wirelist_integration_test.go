package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// generatedOnly hides the client's own Objects client: ListAll through it
// decodes each page whole with the generated code, as before lists read
// their pages' bytes.
type generatedOnly struct{ skiffv1.ObjectsClient }

func sameItems(t *testing.T, what string, got, want []*skiffv1.Object) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d items, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("%s: item %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

// A paged list read from the pages' bytes (decoded on several goroutines,
// the next page asked for while one is decoded) is the list the generated
// code decodes, page for page, with selectors and after updates.
func TestListAllFromBytesEqualsGeneratedDecoding(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, ns := range []string{"ns0", "ns1"} {
		if _, err := s.Client.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 700 {
		p := &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: fmt.Sprintf("ns%d", i%2), Labels: map[string]string{"app": strconv.Itoa(i % 3)}},
			Spec:     &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}},
		}
		if _, err := s.Client.Pods().Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string) {
		t.Helper()
		for _, req := range []*skiffv1.ListRequest{
			{Kind: skiffv1.Kind_KIND_POD},
			{Kind: skiffv1.Kind_KIND_POD, Namespace: "ns1"},
			{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "app=1"},
		} {
			for _, chunk := range []int64{0, 1, 97, 500} {
				got, rv, err := client.ListAll(ctx, s.Client.API(), req, chunk)
				if err != nil {
					t.Fatal(err)
				}
				want, wantRV, err := client.ListAll(ctx, generatedOnly{s.Client.API()}, req, chunk)
				if err != nil {
					t.Fatal(err)
				}
				if rv != wantRV {
					t.Fatalf("%s %v chunk %d: revision %s, the generated decoding's %s with no write between", what, req, chunk, rv, wantRV)
				}
				sameItems(t, fmt.Sprintf("%s %v chunk %d", what, req, chunk), got, want)
				if len(got) == 0 {
					t.Fatalf("%s %v: nothing listed", what, req)
				}
			}
		}
	}
	check("created")
	pods, _, err := s.Client.Pods().List(ctx, client.ListOptions{Namespace: "ns0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods[:50] {
		p.Metadata.Labels["app"] = "1"
		p.Metadata.Annotations = map[string]string{"changed": "yes"}
		if _, err := s.Client.Pods().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods[50:80] {
		if _, _, err := s.Client.Pods().Delete(ctx, p.Metadata.Namespace, p.Metadata.Name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	check("updated")
}

// compactingClient is a client of s whose first continued List finds its
// token compacted away: before it goes out, a service s7 is created and
// etcd compacted to that revision. Its List requests are recorded in spy.
func compactingClient(t *testing.T, s *apitest.Server) (*client.Client, *listSpy) {
	spy := &listSpy{}
	var compacted atomic.Bool
	compactFirst := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if lr, ok := req.(*skiffv1.ListRequest); ok && lr.Continue != "" && compacted.CompareAndSwap(false, true) {
			last, err := s.Client.Services().Create(ctx, svc("s7"))
			if err != nil {
				return err
			}
			rev, _ := strconv.ParseInt(last.Metadata.ResourceVersion, 10, 64)
			if err := s.Compact(ctx, rev); err != nil {
				return err
			}
		}
		return spy.intercept(ctx, method, req, reply, cc, invoker, opts...)
	}
	c, err := client.New(s.Addr, client.Options{DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(compactFirst)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, spy
}

// sevenServices starts a server holding services s0 to s6.
func sevenServices(t *testing.T) (*apitest.Server, context.Context) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	createServices(t, ctx, s.Client, "s0", "s1", "s2", "s3", "s4", "s5", "s6")
	return s, ctx
}

// checkExpiredThenWhole says whether reqs are a first page, a continue
// that expired, then one request.
func checkExpiredThenWhole(t *testing.T, reqs []*skiffv1.ListRequest) {
	t.Helper()
	if len(reqs) != 3 || reqs[0].Continue != "" || reqs[1].Continue == "" || reqs[2].Limit != 0 || reqs[2].Continue != "" {
		t.Fatalf("requests %v: want a first page, a continue that expired, then one request", reqs)
	}
}

// A continue token compacted away between the pages of a list read from
// bytes makes it read everything in one request, at the new revision.
func TestListAllFromBytesAfterCompactionHalfWay(t *testing.T) {
	s, ctx := sevenServices(t)
	c, spy := compactingClient(t, s)
	items, rv, err := client.ListAll(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkExpiredThenWhole(t, spy.take())
	want, wantRV, err := client.ListAll(ctx, generatedOnly{s.Client.API()}, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rv != wantRV || len(items) != 8 {
		t.Fatalf("listed %d services at %s, want 8 at %s", len(items), rv, wantRV)
	}
	sameItems(t, "after compaction", items, want)
}

// ListEach hands over each page as it comes, all at the first page's
// revision; an error from its function ends the list there.
func TestListEachHandsOverPages(t *testing.T) {
	s, ctx := sevenServices(t)
	c, spy := spiedClient(t, s)
	want, wantRV, err := client.ListAll(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, 0)
	if err != nil {
		t.Fatal(err)
	}
	spy.take()
	var got []*skiffv1.Object
	var sizes []int
	err = client.ListEach(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, 2, func(items []*skiffv1.Object, rv string) error {
		if rv != wantRV {
			t.Errorf("a page at revision %s, want %s", rv, wantRV)
		}
		got = append(got, items...)
		sizes = append(sizes, len(items))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkPaged(t, spy.take(), 2, 4)
	if fmt.Sprint(sizes) != "[2 2 2 1]" {
		t.Fatalf("pages of %v, want [2 2 2 1]", sizes)
	}
	sameItems(t, "pages", got, want)

	stop := errors.New("enough")
	calls := 0
	err = client.ListEach(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, 2, func([]*skiffv1.Object, string) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("after an error from the first page: %v and %d calls, want the error and 1 call", err, calls)
	}
	if err := client.ListEach(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, -1, nil); err == nil {
		t.Fatal("a negative chunk size was accepted")
	}
}

// When its continue token expires half-way, ListEach goes on after the
// last item it handed over, at the new revision: every service once, in
// order, the one created meanwhile included.
func TestListEachAfterCompactionHalfWay(t *testing.T) {
	s, ctx := sevenServices(t)
	c, spy := compactingClient(t, s)
	var names, revs []string
	err := client.ListEach(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, 2, func(items []*skiffv1.Object, rv string) error {
		for _, it := range items {
			names = append(names, it.GetService().GetMetadata().GetName())
		}
		revs = append(revs, rv)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkExpiredThenWhole(t, spy.take())
	if fmt.Sprint(names) != "[s0 s1 s2 s3 s4 s5 s6 s7]" {
		t.Fatalf("handed over %v, want s0 to s7 once each", names)
	}
	_, nowRV, err := client.ListAll(ctx, c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_SERVICE}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0] == revs[1] || revs[1] != nowRV {
		t.Fatalf("revisions %v: want the first page's, then the current %s", revs, nowRV)
	}
}
