package watchcache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const cm = skiffv1.Kind_KIND_CONFIG_MAP

// Watchers from different revisions, all inside the ring, and one from
// now, each see exactly the changes after their revision, in order: what
// a direct etcd watch from the same revision sees.
func TestWatchersAtDifferentRevisionsSeeTheSameEvents(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, reg, _ := startCache(t, watchcache.Config{Source: st})
	base, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first watch starts the kind's etcd watch from its revision.
	first := c.Watch(ctx, cm, "", base, nil)
	defer first.Stop()
	now := c.Watch(ctx, cm, "", 0, nil)
	defer now.Stop()
	history := writes(t, ctx, st, "a", 30)
	// The cache has received the history once the first watcher has.
	sameEvents(t, "from the base", collect(t, ctx, first, len(history)), history)
	later := writes(t, ctx, st, "a", 10)
	all := append(append([]seen(nil), history...), later...)
	for _, i := range []int{0, 7, 15, 29} {
		rev := history[i].rev
		w := c.Watch(ctx, cm, "", rev, nil)
		want := after(all, rev)
		sameEvents(t, fmt.Sprintf("from revision %d", rev), collect(t, ctx, w, len(want)), want)
		w.Stop()
		d := watchcache.Direct(ctx, st, cm, "", rev)
		sameEvents(t, fmt.Sprintf("direct from revision %d", rev), collect(t, ctx, d, len(want)), want)
		d.Stop()
	}
	sameEvents(t, "the rest, from the base", collect(t, ctx, first, len(later)), later)
	// "From now" began before the history.
	sameEvents(t, "from now", collect(t, ctx, now, len(all)), all)
	if n := counter(t, reg, "skiff_apiserver_watch_cache_direct_watches_total", "configmaps"); n != 0 {
		t.Errorf("%v watches went to etcd, want 0: all were inside the ring", n)
	}
}

// A revision inside the ring resumes from memory; an older one than the
// ring holds gets an etcd watch of its own and still every event.
func TestResumeInsideAndOutsideTheRing(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, reg, _ := startCache(t, watchcache.Config{Source: st, Capacity: 8})
	base, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Watch(ctx, cm, "", base, nil)
	defer w.Stop()
	history := writes(t, ctx, st, "a", 30)
	collect(t, ctx, w, len(history)) // the ring now holds the last 8

	inside := history[len(history)-6].rev
	r := c.Watch(ctx, cm, "", inside, nil)
	sameEvents(t, "inside the ring", collect(t, ctx, r, 5), after(history, inside))
	r.Stop()
	if n := counter(t, reg, "skiff_apiserver_watch_cache_direct_watches_total", "configmaps"); n != 0 {
		t.Fatalf("a revision inside the ring went to etcd")
	}

	outside := history[3].rev
	o := c.Watch(ctx, cm, "", outside, nil)
	defer o.Stop()
	want := after(history, outside)
	sameEvents(t, "outside the ring", collect(t, ctx, o, len(want)), want)
	if n := counter(t, reg, "skiff_apiserver_watch_cache_direct_watches_total", "configmaps"); n != 1 {
		t.Fatalf("direct watches = %v, want 1 (the one older than the ring)", n)
	}
	// It stays live.
	more := writes(t, ctx, st, "b", 2)
	sameEvents(t, "outside the ring, live", collect(t, ctx, o, 2), more)
}

// A revision etcd compacted away is ErrCompacted, as without the cache,
// whether or not the ring still holds it.
func TestCompactedRevisionIsErrCompacted(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, _, _ := startCache(t, watchcache.Config{Source: st})
	base, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Watch(ctx, cm, "", base, nil)
	defer w.Stop()
	history := writes(t, ctx, st, "a", 10)
	collect(t, ctx, w, len(history))
	if err := st.Compact(ctx, history[len(history)-1].rev); err != nil {
		t.Fatal(err)
	}
	old := c.Watch(ctx, cm, "", history[2].rev, nil)
	defer old.Stop()
	ev, ok := old.Next(ctx)
	if !ok || !errors.Is(ev.Err, storage.ErrCompacted) {
		t.Fatalf("watch from a compacted revision: %+v %v, want ErrCompacted", ev, ok)
	}
}

// A watcher that does not read is ended with ErrTooSlow after the events
// it was given, without holding up another; resuming from its last
// revision leaves no gap.
func TestSlowWatcherIsEndedOthersUnaffected(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, reg, _ := startCache(t, watchcache.Config{Source: st, WatcherQueue: 5})
	base, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slow := c.Watch(ctx, cm, "", base, nil)
	defer slow.Stop()
	fast := c.Watch(ctx, cm, "", base, nil)
	defer fast.Stop()
	// The fast watcher reads each event before the next write, so it
	// never has more than one queued however slowly this test is
	// scheduled, while the slow one's queue of 5 overflows.
	var got, history []seen
	for range 40 {
		history = append(history, writes(t, ctx, st, "a", 1)...)
		ev, ok := fast.Next(ctx)
		if !ok || ev.Err != nil {
			t.Fatalf("the fast watcher ended: %v", ev.Err)
		}
		got = append(got, seen{ev.Type, ev.Object.GetMetadata().GetName(), ev.Revision})
	}
	sameEvents(t, "the fast watcher", got, history)

	var given []seen
	var end error
	for {
		ev, ok := slow.Next(ctx)
		if !ok {
			t.Fatal("the slow watcher closed without an error")
		}
		if ev.Err != nil {
			end = ev.Err
			break
		}
		given = append(given, seen{ev.Type, ev.Object.GetMetadata().GetName(), ev.Revision})
	}
	if !errors.Is(end, watchcache.ErrTooSlow) {
		t.Fatalf("the slow watcher ended with %v, want ErrTooSlow", end)
	}
	if len(given) == 0 || len(given) >= len(history) {
		t.Fatalf("the slow watcher was given %d of %d events before it ended", len(given), len(history))
	}
	sameEvents(t, "before the end", given, history[:len(given)])
	if n := counter(t, reg, "skiff_apiserver_watch_cache_slow_watchers_total", "configmaps"); n != 1 {
		t.Errorf("slow watchers = %v, want 1", n)
	}
	resumed := c.Watch(ctx, cm, "", given[len(given)-1].rev, nil)
	defer resumed.Stop()
	rest := history[len(given):]
	sameEvents(t, "resumed", collect(t, ctx, resumed, len(rest)), rest)
}

// A watcher of one namespace, or with a selector, gets only the changes
// that concern it: one of an object it matched before or after included,
// so the API server can say DELETED when an object stops matching.
func TestNamespaceAndSelector(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, _, _ := startCache(t, watchcache.Config{Source: st})
	ns := c.Watch(ctx, cm, "b", 0, nil)
	defer ns.Stop()
	match := func(o skiffv1.Resource) bool { return o.GetMetadata().GetLabels()["v"] == "yes" }
	sel := c.Watch(ctx, cm, "", 0, match)
	defer sel.Stop()

	writes(t, ctx, st, "a", 5)
	inB := writes(t, ctx, st, "b", 3)
	sameEvents(t, "namespace b", collect(t, ctx, ns, len(inB)), inB)

	a, err := st.Create(ctx, configMap("c", "x", "no"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	set := func(cur skiffv1.Resource, v string) skiffv1.Resource {
		t.Helper()
		next := configMap("c", "x", v)
		out, err := st.Update(ctx, next, storage.Revision(cur))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	b := set(a, "yes")  // starts matching
	cc := set(b, "yes") // still matches
	d := set(cc, "no")  // stops matching
	e := set(d, "no")   // concerns no one
	f := set(e, "yes")  // matches again
	got := collect(t, ctx, sel, 4)
	want := []seen{{storage.Modified, "x", storage.Revision(b)}, {storage.Modified, "x", storage.Revision(cc)}, {storage.Modified, "x", storage.Revision(d)}, {storage.Modified, "x", storage.Revision(f)}}
	sameEvents(t, "selector", got, want)
}

// Every watcher is told the kind's revision now and then, so one whose
// namespace is quiet can resume from a recent revision.
func TestBookmarksReachIdleWatchers(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, _, _ := startCache(t, watchcache.Config{Source: st, BookmarkInterval: 50 * time.Millisecond})
	quiet := c.Watch(ctx, cm, "quiet", 0, nil)
	defer quiet.Stop()
	busy := writes(t, ctx, st, "busy", 5)
	last := busy[len(busy)-1].rev
	for {
		ev, ok := quiet.Next(ctx)
		if !ok || ev.Err != nil {
			t.Fatalf("the quiet watcher ended: %v", ev.Err)
		}
		if ev.Type != storage.Progress {
			t.Fatalf("the quiet watcher got %v, want only bookmarks", ev.Type)
		}
		if ev.Revision >= last {
			return
		}
	}
}

// 1,000 watchers of one kind each see every change, in order.
func TestThousandWatchers(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, _, _ := startCache(t, watchcache.Config{Source: st})
	base, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	var ws []*watchcache.Watcher
	for range n {
		w := c.Watch(ctx, cm, "", base, nil)
		defer w.Stop()
		ws = append(ws, w)
	}
	history := writes(t, ctx, st, "a", 50)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got []seen
			for len(got) < len(history) {
				ev, ok := w.Next(ctx)
				if !ok || ev.Err != nil {
					errs <- fmt.Sprintf("watcher %d ended after %d events: %v", i, len(got), ev.Err)
					return
				}
				got = append(got, seen{ev.Type, ev.Object.GetMetadata().GetName(), ev.Revision})
			}
			if fmt.Sprint(got) != fmt.Sprint(history) {
				errs <- fmt.Sprintf("watcher %d saw %v", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// flakySource is a store whose etcd watches the test can end, as etcd
// does when its member loses the leader (storage watches require one).
type flakySource struct {
	*storage.Store
	mu   sync.Mutex
	cuts []chan error
}

func (f *flakySource) Watch(ctx context.Context, k skiffv1.Kind, ns string, after int64) <-chan storage.WatchEvent {
	in := f.Store.Watch(ctx, k, ns, after)
	cut := make(chan error, 1)
	f.mu.Lock()
	f.cuts = append(f.cuts, cut)
	f.mu.Unlock()
	out := make(chan storage.WatchEvent)
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case err := <-cut:
				select {
				case out <- storage.WatchEvent{Err: err}:
				case <-ctx.Done():
				}
				return
			}
		}
	}()
	return out
}

func (f *flakySource) cutAll(err error) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cuts {
		c <- err
	}
	n := len(f.cuts)
	f.cuts = nil
	return n
}

// When the kind's etcd watch fails, every watcher of it ends with that
// error (so clients go to another server); the next watch opens a new one.
func TestEtcdWatchFailureEndsEveryWatcher(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	src := &flakySource{Store: st}
	c, _, _ := startCache(t, watchcache.Config{Source: src})
	var ws []*watchcache.Watcher
	for range 3 {
		w := c.Watch(ctx, cm, "", 0, nil)
		defer w.Stop()
		ws = append(ws, w)
	}
	noLeader := errors.New("etcdserver: no leader")
	if n := src.cutAll(noLeader); n != 1 {
		t.Fatalf("%d etcd watches for one kind, want 1", n)
	}
	for i, w := range ws {
		ev, ok := w.Next(ctx)
		if !ok || !errors.Is(ev.Err, noLeader) {
			t.Fatalf("watcher %d: %+v %v, want the etcd error", i, ev, ok)
		}
		if _, ok := w.Next(ctx); ok {
			t.Fatalf("watcher %d went on after its error", i)
		}
	}
	again := c.Watch(ctx, cm, "", 0, nil)
	defer again.Stop()
	more := writes(t, ctx, st, "a", 2)
	sameEvents(t, "after a new etcd watch", collect(t, ctx, again, 2), more)
}

// Stopping the cache ends its watchers with ErrStopped and leaves no
// goroutine behind.
func TestStopEndsWatchersWithoutLeaks(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	c, _, stop := startCache(t, watchcache.Config{Source: st})
	var ws []*watchcache.Watcher
	for _, k := range []skiffv1.Kind{cm, skiffv1.Kind_KIND_POD, skiffv1.Kind_KIND_NODE} {
		for range 5 {
			ws = append(ws, c.Watch(ctx, k, "", 0, nil))
		}
	}
	writes(t, ctx, st, "a", 3)
	if len(leftovers()) == 0 {
		t.Fatal("the leak check finds no goroutine of the running cache: it would miss a leak")
	}
	stop()
	for i, w := range ws {
		var ev storage.WatchEvent
		ok := true
		for ok && ev.Err == nil {
			ev, ok = w.Next(ctx)
		}
		if !errors.Is(ev.Err, watchcache.ErrStopped) {
			t.Fatalf("watcher %d ended with %v, want ErrStopped", i, ev.Err)
		}
	}
	// etcd's client winds its watch streams down a moment later.
	limit := time.Now().Add(deadline)
	for {
		left := leftovers()
		if len(left) == 0 {
			break
		}
		if time.Now().After(limit) {
			t.Fatalf("%d goroutines of the cache or its watches left:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if w := c.Watch(ctx, cm, "", 0, nil); true {
		if ev, _ := w.Next(ctx); !errors.Is(ev.Err, watchcache.ErrStopped) {
			t.Fatalf("a watch of a stopped cache: %v, want ErrStopped", ev.Err)
		}
	}
}

// leftovers are the stacks of goroutines of the cache, the store's
// watches or etcd's client watch streams.
func leftovers() []string {
	buf := make([]byte, 4<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "apiserver/watchcache.") || strings.Contains(g, "apiserver/storage.") || strings.Contains(g, "watchGrpcStream") {
			out = append(out, g)
		}
	}
	return out
}
