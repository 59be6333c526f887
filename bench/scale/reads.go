package main

// The reads the benchmark times against a cluster at scale: watch
// fan-out, and full pod lists in pages and in one request.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fanOut opens watchers watches of ConfigMaps, each on its own
// connection, changes one ConfigMap events times and measures, per change
// and watcher, the time from the write's acknowledgement to its arrival.
func fanOut(ctx context.Context, dial func() (*client.Client, error), watchers, events int) ([]time.Duration, error) {
	admin, err := dial()
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	cm, err := admin.ConfigMaps().Create(ctx, &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: "fanout", Namespace: "default"}})
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	acked := map[string]time.Time{} // by data value
	var delays []time.Duration
	var wg sync.WaitGroup
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{}, watchers)
	for range watchers {
		c, err := dial()
		if err != nil {
			return nil, err
		}
		defer c.Close()
		w, err := c.ConfigMaps().Watch(wctx, client.ListOptions{Namespace: "default"}, cm.GetMetadata().GetResourceVersion())
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Stop()
			ready <- struct{}{}
			for seen := 0; seen < events; {
				ev, err := w.Next()
				if err != nil {
					return
				}
				if ev.Object == nil || ev.Object.GetMetadata().GetName() != "fanout" {
					continue
				}
				arrived := time.Now()
				v := ev.Object.GetData()["v"]
				for {
					mu.Lock()
					t, ok := acked[v]
					if ok {
						delays = append(delays, max(arrived.Sub(t), 0))
					}
					mu.Unlock()
					if ok {
						break
					}
					time.Sleep(time.Millisecond) // the ack is a moment behind
				}
				seen++
			}
		}()
	}
	for range watchers {
		<-ready
	}
	for i := range events {
		v := strconv.Itoa(i)
		next := proto.Clone(cm).(*skiffv1.ConfigMap)
		next.Data = map[string]string{"v": v}
		t0 := time.Now()
		if cm, err = admin.ConfigMaps().Update(ctx, next); err != nil {
			return nil, err
		}
		mu.Lock()
		acked[v] = t0
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return nil, errors.New("watchers did not see every change within 2 minutes")
	}
	return delays, nil
}

// timeLists times o.lists full pod lists from each server in turn: in
// pages of client.DefaultChunkSize, and in one request; from the cached
// list server also by the lister, a list client in a process of its own.
// The benchmark's own lists share its process with the hollow nodes and
// the watchers; the lister's do not. It prints each
// way's lists in the order taken and, for paged ones, each list's first
// and slowest page: which list and which page a slow p99 comes from.
// afterFirst is called once the first round of lists is done.
func timeLists(ctx context.Context, out io.Writer, cp, cached, direct *client.Client, pt *pageTimer, l *listerProcess, getPods []*cliGet, cachedAddr string, o options, afterFirst func()) error {
	type way struct {
		name string
		c    *client.Client
		// addr, when set, is listed by the lister, a process of its own.
		addr string
		// cli, when set, is skiff's command line, a process per list.
		cli    *cliGet
		runs   []cliRun
		chunk  int64
		lat    []time.Duration
		pages  []string // per list: its pages' story
		failed int
		err    error
	}
	ways := []*way{
		{name: fmt.Sprintf("watch cache, pages of %d, from a list client process of its own (as kubectl)", client.DefaultChunkSize), addr: cachedAddr, chunk: client.DefaultChunkSize},
		{name: "watch cache, one request, from a list client process of its own", addr: cachedAddr},
		{name: fmt.Sprintf("watch cache, pages of %d", client.DefaultChunkSize), c: cached, chunk: client.DefaultChunkSize},
		{name: fmt.Sprintf("etcd, pages of %d", client.DefaultChunkSize), c: direct, chunk: client.DefaultChunkSize},
		{name: "watch cache, one request", c: cached},
		{name: "etcd, one request", c: direct},
		{name: fmt.Sprintf("the control plane's own API server (watch cache; heartbeats, scheduler, controllers and etcd in its process), pages of %d", client.DefaultChunkSize), c: cp, chunk: client.DefaultChunkSize},
	}
	var commandLines []*way
	for _, g := range getPods {
		commandLines = append(commandLines, &way{name: fmt.Sprintf("watch cache, `%s get pods -A` (the command line, a fresh process per list, its table to a pipe)", g.name()), cli: g})
	}
	ways = append(commandLines, ways...)
	var loads []string
	for round := range o.lists {
		if round == 1 {
			afterFirst()
		}
		loads = append(loads, loadAverage())
		for _, w := range ways {
			t0 := time.Now()
			var n int
			if w.cli != nil {
				run, err := w.cli.list(ctx)
				if err != nil {
					w.failed, w.err = w.failed+1, err
					continue
				}
				w.lat, w.runs = append(w.lat, run.took), append(w.runs, run)
				if run.rows < o.pods {
					return fmt.Errorf("%s printed %d pods, want %d", w.name, run.rows, o.pods)
				}
				continue
			}
			if w.addr != "" {
				took, got, story, err := l.list(w.addr, w.chunk)
				if err != nil {
					w.failed, w.err = w.failed+1, err
					continue
				}
				w.lat = append(w.lat, took)
				if w.chunk > 0 {
					w.pages = append(w.pages, story)
				}
				if got < o.pods {
					return fmt.Errorf("a full list (%s) returned %d pods, want %d", w.name, got, o.pods)
				}
				continue
			}
			if w.chunk > 0 {
				pt.arm()
				items, _, err := client.ListAll(ctx, w.c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD}, w.chunk)
				story := pt.story()
				if err != nil {
					// Counted, not fatal: a loaded server times out.
					w.failed, w.err = w.failed+1, err
					continue
				}
				n = len(items)
				w.pages = append(w.pages, story)
			} else {
				items, _, err := client.ListAll(ctx, w.c.API(), &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD}, 0)
				if err != nil {
					w.failed, w.err = w.failed+1, err
					continue
				}
				n = len(items)
			}
			w.lat = append(w.lat, time.Since(t0))
			if n < o.pods {
				return fmt.Errorf("a full list (%s) returned %d pods, want %d", w.name, n, o.pods)
			}
		}
	}
	if o.lists < 2 {
		afterFirst()
	}
	fmt.Fprintf(out, "load average at the start of each round of lists: %s\n", strings.Join(loads, "; "))
	for _, w := range ways {
		fmt.Fprintf(out, "list pods -A (%d pods), %s: %s\n", o.pods, w.name, percentiles(w.lat))
		fmt.Fprintf(out, "  in order:%s\n", inOrder(w.lat))
		for i, p := range w.pages {
			fmt.Fprintf(out, "  list %d: %s\n", i+1, p)
		}
		for i, r := range w.runs {
			fmt.Fprintf(out, "  process %d: peak RSS %s, CPU %.2f s\n", i+1, mib(r.rss), r.cpu.Seconds())
		}
		if w.failed > 0 {
			fmt.Fprintf(out, "  failed: %d (last: %v)\n", w.failed, w.err)
		}
	}
	return nil
}

// pageTimer times each List call of a paged list, as a gRPC client
// interceptor (the client reads list pages through its own Objects
// client, which a wrapper around it would hide): the calls since arm.
type pageTimer struct {
	mu    sync.Mutex
	armed bool
	took  []time.Duration
	limit []int64
}

// arm starts recording a list's calls, forgetting the last list's.
func (p *pageTimer) arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.took, p.limit = true, nil, nil
}

// story stops recording and tells the calls recorded.
func (p *pageTimer) story() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = false
	return p.String()
}

func (p *pageTimer) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	lr, ok := req.(*skiffv1.ListRequest)
	if !ok || lr.GetKind() != skiffv1.Kind_KIND_POD {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	t0 := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	p.mu.Lock()
	if p.armed {
		p.took = append(p.took, time.Since(t0))
		p.limit = append(p.limit, lr.GetLimit())
	}
	p.mu.Unlock()
	return err
}

// dialOption has the client's List calls timed by p.
func (p *pageTimer) dialOption() grpc.DialOption { return grpc.WithChainUnaryInterceptor(p.intercept) }

// String says how many pages, the first's time, the slowest's, and
// whether a page was a list in one request (a continue that expired).
func (p *pageTimer) String() string {
	if len(p.took) == 0 {
		return "no pages"
	}
	slow := 0
	var sum time.Duration
	for i, d := range p.took {
		sum += d
		if d > p.took[slow] {
			slow = i
		}
	}
	s := fmt.Sprintf("%d pages, %s in calls; first %s, slowest #%d %s", len(p.took), round(sum), round(p.took[0]), slow+1, round(p.took[slow]))
	for i, l := range p.limit {
		if l == 0 {
			s += fmt.Sprintf("; call #%d listed everything in one request (continue expired)", i+1)
		}
	}
	return s
}

func round(d time.Duration) string { return d.Round(time.Millisecond).String() }

func inOrder(d []time.Duration) string {
	var b strings.Builder
	for _, x := range d {
		b.WriteString(" " + round(x))
	}
	return b.String()
}
