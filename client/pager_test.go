package client_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// listSpy records the List requests a client makes.
type listSpy struct {
	mu   sync.Mutex
	reqs []*skiffv1.ListRequest
}

func (s *listSpy) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if lr, ok := req.(*skiffv1.ListRequest); ok {
		s.mu.Lock()
		s.reqs = append(s.reqs, &skiffv1.ListRequest{Kind: lr.Kind, Limit: lr.Limit, Continue: lr.Continue})
		s.mu.Unlock()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// take returns the requests since the last take.
func (s *listSpy) take() []*skiffv1.ListRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

func spiedClient(t *testing.T, s *apitest.Server) (*client.Client, *listSpy) {
	spy := &listSpy{}
	c, err := client.New(s.Addr, client.Options{DialOptions: []grpc.DialOption{grpc.WithUnaryInterceptor(spy.intercept)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, spy
}

// checkPaged says whether reqs are one paged list of chunk items: a first
// request without continue, then each with one.
func checkPaged(t *testing.T, reqs []*skiffv1.ListRequest, chunk int64, pages int) {
	t.Helper()
	if len(reqs) != pages {
		t.Fatalf("%d List requests, want %d pages", len(reqs), pages)
	}
	for i, r := range reqs {
		if r.Limit != chunk || (i == 0) != (r.Continue == "") {
			t.Fatalf("request %d: limit %d continue %q; want limit %d and a continue from the second on", i, r.Limit, r.Continue, chunk)
		}
	}
}

func TestListAllReadsInChunks(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("s%d", i)
		if _, err := s.Client.Services().Create(ctx, svc(name)); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	c, spy := spiedClient(t, s)
	whole, wholeRV, err := c.Services().ListChunked(ctx, client.ListOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkPaged(t, spy.take(), 0, 1)
	items, rv, err := c.Services().ListChunked(ctx, client.ListOptions{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkPaged(t, spy.take(), 2, 4)
	var got []string
	for _, it := range items {
		got = append(got, it.Metadata.Name)
	}
	if !slices.Equal(got, want) || len(whole) != len(want) {
		t.Fatalf("chunks gave %v, want %v", got, want)
	}
	if rv != wholeRV {
		t.Fatalf("chunked list at revision %s, the whole one at %s with no write between", rv, wholeRV)
	}
	if _, _, err := c.Services().ListChunked(ctx, client.ListOptions{}, -1); err == nil {
		t.Fatal("a negative chunk size was accepted")
	}
}

// An informer lists in pages, first and after a compaction, and watches
// from the first page's revision: a change made after its list arrives.
func TestInformerListsInPages(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 5 {
		if _, err := s.Client.Services().Create(ctx, svc(fmt.Sprintf("s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c, spy := spiedClient(t, s)
	inf := client.NewInformer(c.Services(), client.ListOptions{}, nil)
	inf.SetPageSize(2)
	rec := &recorder{live: map[string]string{}}
	inf.AddHandler(rec.handler())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { inf.Run(runCtx); close(done) }()
	if !inf.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	checkPaged(t, spy.take(), 2, 3)
	if len(inf.List()) != 5 {
		t.Fatalf("informer has %d services, want 5", len(inf.List()))
	}
	if _, err := s.Client.Services().Create(ctx, svc("s5")); err != nil {
		t.Fatal(err)
	}
	waitState(t, rec, serverState(t, ctx, s.Client))

	// Paused past a compaction, it lists again, in pages.
	stop()
	<-done
	spy.take()
	if _, err := s.Client.Services().Create(ctx, svc("s6")); err != nil {
		t.Fatal(err)
	}
	last, err := s.Client.Services().Create(ctx, svc("s7"))
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(last.Metadata.ResourceVersion, 10, 64)
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	go inf.Run(ctx)
	waitState(t, rec, serverState(t, ctx, s.Client))
	checkPaged(t, spy.take(), 2, 4)
}

func waitState(t *testing.T, rec *recorder, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !equalMaps(rec.snapshot(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("handlers saw %v, server has %v", keys(rec.snapshot()), keys(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
