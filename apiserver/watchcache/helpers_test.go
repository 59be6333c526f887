package watchcache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	"github.com/skiff-sh/skiff/internal/etcdtest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const deadline = 30 * time.Second

var calls atomic.Int32

// startStore runs an embedded etcd for the test and returns a store on it.
func startStore(t *testing.T) *storage.Store {
	t.Helper()
	e, _ := etcdtest.Start(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdtest.Endpoint(e)}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return storage.New(cli, storage.Options{SingleMember: true})
}

// startCache runs a cache over st until the test ends; stop ends it early
// and waits for it.
func startCache(t *testing.T, cfg watchcache.Config) (c *watchcache.Cache, reg *prometheus.Registry, stop func()) {
	t.Helper()
	reg = prometheus.NewRegistry()
	cfg.Registerer = reg
	c = watchcache.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(deadline):
			t.Fatal("watch cache did not stop")
		}
	}
	t.Cleanup(stop)
	return c, reg, stop
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	t.Cleanup(cancel)
	return ctx
}

func configMap(ns, name, v string) *skiffv1.ConfigMap {
	return &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"v": v}}, Data: map[string]string{"v": v}}
}

// seen is what a test compares of an event.
type seen struct {
	typ  storage.EventType
	name string
	rev  int64
}

func (s seen) String() string { return fmt.Sprintf("%d:%s@%d", s.typ, s.name, s.rev) }

// writes makes n changes of ConfigMaps in ns (creates, updates, deletes)
// and returns them as a watcher must see them.
func writes(t *testing.T, ctx context.Context, st *storage.Store, ns string, n int) []seen {
	t.Helper()
	var out []seen
	live := map[string]skiffv1.Resource{}
	call := calls.Add(1) // names of their own, so calls do not collide
	for i := range n {
		name := fmt.Sprintf("cm%d-%d", call, i%4)
		cur, ok := live[name]
		var err error
		switch {
		case !ok:
			cur, err = st.Create(ctx, configMap(ns, name, fmt.Sprint(i)), nil, 0)
			out = append(out, seen{storage.Added, name, storage.Revision(cur)})
			live[name] = cur
		case i%3 == 0:
			cur, err = st.Delete(ctx, skiffv1.Kind_KIND_CONFIG_MAP, ns, name, 0, nil)
			out = append(out, seen{storage.Deleted, name, storage.Revision(cur)})
			delete(live, name)
		default:
			next := configMap(ns, name, fmt.Sprint(i))
			next.Metadata.ResourceVersion = cur.GetMetadata().GetResourceVersion()
			cur, err = st.Update(ctx, next, storage.Revision(cur))
			out = append(out, seen{storage.Modified, name, storage.Revision(cur)})
			live[name] = cur
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// collect reads n data events (bookmarks skipped) from w.
func collect(t *testing.T, ctx context.Context, w *watchcache.Watcher, n int) []seen {
	t.Helper()
	var out []seen
	for len(out) < n {
		ev, ok := w.Next(ctx)
		if !ok {
			t.Fatalf("watch closed after %d of %d events", len(out), n)
		}
		if ev.Err != nil {
			t.Fatalf("watch ended after %d of %d events: %v", len(out), n, ev.Err)
		}
		if ev.Type == storage.Progress {
			continue
		}
		out = append(out, seen{ev.Type, ev.Object.GetMetadata().GetName(), ev.Revision})
	}
	return out
}

func sameEvents(t *testing.T, what string, got, want []seen) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// after is the part of want after revision rev.
func after(want []seen, rev int64) []seen {
	var out []seen
	for _, s := range want {
		if s.rev > rev {
			out = append(out, s)
		}
	}
	return out
}

// counter reads one series of a counter by its kind label.
func counter(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}
