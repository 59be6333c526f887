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

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// slowPages serves a list of pods one per page, each page after delay.
type slowPages struct {
	skiffv1.UnimplementedObjectsServer
	pages int
	delay atomic.Int64 // nanoseconds
}

func (s *slowPages) List(ctx context.Context, req *skiffv1.ListRequest) (*skiffv1.ListResponse, error) {
	select {
	case <-time.After(time.Duration(s.delay.Load())):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	i, _ := strconv.Atoi(req.GetContinue())
	resp := &skiffv1.ListResponse{ResourceVersion: "7", Items: []*skiffv1.Object{skiffv1.Wrap(&skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p%d", i)},
	})}}
	if i+1 < s.pages {
		resp.Continue = strconv.Itoa(i + 1)
	}
	return resp, nil
}

// --request-timeout bounds the wait for each page of a paged list, not
// the whole list; a page that does not come in time is an error that
// says what to do.
func TestGetPagedTimeoutIsPerPage(t *testing.T) {
	srv := &slowPages{pages: 6}
	srv.delay.Store(int64(500 * time.Millisecond))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	skiffv1.RegisterObjectsServer(g, srv)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	r := &runner{t: t, addr: lis.Addr().String(), now: time.Now()}

	start := time.Now()
	res := r.run("get", "pods", "-A", "--chunk-size", "1", "--request-timeout", "2s")
	if res.e != nil || strings.Count(res.out, "\n") != 7 || !strings.Contains(res.out, "p5") {
		t.Fatalf("six pages of 500 ms with a 2 s timeout (took %s): %+v", time.Since(start), res)
	}
	srv.delay.Store(int64(5 * time.Second))
	res = r.run("get", "pods", "-A", "--chunk-size", "1", "--request-timeout", "300ms")
	if res.e == nil || !strings.Contains(res.err, "no page of the pod list came in 300ms") || !strings.Contains(res.err, "raise --request-timeout") {
		t.Fatalf("a page slower than the timeout: %+v", res)
	}
}
