package watchcache

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/skiff-sh/skiff/apiserver/listwire"
	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// errTooOld: the revision asked for is before the ring's history.
var errTooOld = errors.New("revision older than the watch cache")

// kind is the cache of one kind: one etcd watch of every namespace, the
// kind's current objects, the ring of its recent events and the watchers
// they go to. The objects and the events share each decoded object.
type kind struct {
	c    *Cache
	kind skiffv1.Kind
	info skiffv1.KindInfo

	ready    chan struct{} // closed once the etcd watch is open or failed
	startErr error         // why it failed; read after ready

	mu sync.Mutex
	// ring holds the newest events in revision order, oldest at head.
	ring []*storage.WatchEvent
	head int
	size int
	// Every event after from, up to cur, has been received: a watcher
	// from a revision in [from, cur] can be served from the ring.
	from, cur int64
	watchers  map[*Watcher]struct{}
	done      bool
	// objects is the kind as it is at revision cur.
	objects store
	// advanced is closed and replaced whenever cur moves on.
	advanced chan struct{}
	// snaps are the snapshots paged lists continue from, by revision.
	snaps map[int64]*heldSnapshot
	// wanted are revisions the cache has yet to reach whose snapshot a
	// paged list will continue from (its first page was read from etcd
	// there), until when they are wanted: taken as the cache passes them.
	wanted map[int64]time.Time
	// changed is the revision of the newest change to objects (the
	// revision they were filled at before any): objects are the kind as
	// it was at every revision from changed to cur.
	changed int64
	// lastProgress is when etcd was last asked for progress (UnixNano).
	lastProgress atomic.Int64
	// share makes the objects kept share their equal parts; used by the
	// run goroutine only.
	share *sharer
}

func newKind(c *Cache, k skiffv1.Kind) *kind {
	info, _ := skiffv1.Info(k)
	return &kind{c: c, kind: k, info: info, ready: make(chan struct{}), watchers: map[*Watcher]struct{}{},
		advanced: make(chan struct{}), snaps: map[int64]*heldSnapshot{}, wanted: map[int64]time.Time{},
		share: newSharer(shareLimit)}
}

// stream marks ctx so that the kind's etcd watch gets a gRPC stream of its
// own: etcd answers a progress request only once every watch on the
// stream is current, so a client watch catching up on the same stream
// (or another kind's backlog) would hold up the lists of this one. A
// progress request made with the same mark reaches this stream.
func (kc *kind) stream(ctx context.Context) context.Context {
	return metadata.NewOutgoingContext(ctx, metadata.Pairs("skiff-watch-cache", kc.info.Plural))
}

// keyOf is an object's key in the store.
func (kc *kind) keyOf(obj skiffv1.Resource) string {
	m := obj.GetMetadata()
	if kc.info.Namespaced {
		return m.GetNamespace() + "/" + m.GetName()
	}
	return m.GetName()
}

// fill lists the kind at revision rev into the store, in pages, so that
// the events after rev keep it current.
func (kc *kind) fill(ctx context.Context, rev int64) error {
	opts := storage.ListOptions{Limit: fillPage, Revision: rev}
	for {
		page, err := kc.c.cfg.Source.ListPage(ctx, kc.kind, "", opts)
		if err != nil {
			return err
		}
		for _, obj := range page.Items {
			kc.share.share(obj)
			kc.objects.appendSorted(kc.keyOf(obj), obj, encode(obj))
		}
		if page.Continue == "" {
			return nil
		}
		opts.Continue = page.Continue
	}
}

// encode is obj as lists send it, or nil when it cannot be encoded: the
// lists that would send it then marshal their response as usual, and fail
// as they would have.
func encode(obj skiffv1.Resource) []byte {
	b, err := listwire.EncodeItem(obj)
	if err != nil {
		return nil
	}
	return b
}

// fillPage is the page size of the initial list: bounded memory for the
// responses, few enough pages that etcd's count after each stays cheap.
const fillPage = 10000

// setCur moves cur on to rev and wakes the lists waiting for it. Called
// with kc.mu held.
func (kc *kind) setCur(rev int64) {
	if rev <= kc.cur {
		return
	}
	kc.cur = rev
	close(kc.advanced)
	kc.advanced = make(chan struct{})
}

// run opens the kind's etcd watch, from after when etcd still keeps it
// (the first watcher is then served from the cache too), else from now,
// and fans its events out until it ends.
func (kc *kind) run(after int64) {
	c := kc.c
	defer c.wg.Done()
	src := c.cfg.Source
	rev, err := src.CurrentRevision(c.ctx)
	if err != nil {
		kc.fail(err)
		return
	}
	start := rev
	if after > 0 && after < rev {
		if kept, err := src.Kept(c.ctx, after); err == nil && kept {
			start = after
		}
	}
	err = kc.fill(c.ctx, start)
	if errors.Is(err, storage.ErrCompacted) && start != rev {
		// Compacted since Kept said otherwise: from now, then.
		kc.objects, start = store{}, rev
		err = kc.fill(c.ctx, start)
	}
	if err != nil {
		kc.fail(fmt.Errorf("watch cache: list %s: %w", kc.info.Plural, err))
		return
	}
	kc.from, kc.cur, kc.changed = start, start, start
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	// The objects hold each modification's previous value: etcd's
	// need not be decoded again.
	events := src.Watch(storage.WithoutModifiedPrev(kc.stream(ctx)), kc.kind, "", start)
	close(kc.ready)
	tick := time.NewTicker(c.cfg.BookmarkInterval)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			switch {
			case !ok:
				kc.end(ErrStopped)
				return
			case ev.Err != nil:
				kc.end(ev.Err)
				return
			case ev.Type == storage.Progress:
				// Lists wait for it; watchers hear of it at the next
				// bookmark tick, not at every progress a list asked for.
				kc.mu.Lock()
				// Every change up to it is in: the objects are the
				// kind as it is at that revision.
				kc.takeWanted(ev.Revision + 1)
				kc.setCur(ev.Revision)
				kc.mu.Unlock()
			default:
				kc.add(ev)
			}
		case <-tick.C:
			kc.progress()
		}
	}
}

func (kc *kind) fail(err error) {
	kc.c.forget(kc)
	kc.startErr = err
	close(kc.ready)
}

// end ends every watcher with err; the next watch of the kind starts a
// new etcd watch.
func (kc *kind) end(err error) {
	kc.c.forget(kc)
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.done = true
	clear(kc.wanted)
	for w := range kc.watchers {
		w.end(err)
	}
	kc.c.metrics.watchers(kc.kind, -len(kc.watchers))
	kc.watchers = nil
	kc.ring, kc.size = nil, 0
	kc.objects = store{}
	kc.c.metrics.ringSize(kc.kind, 0)
}

// add applies an event to the objects, keeps it and hands it to every
// watcher it concerns.
func (kc *kind) add(ev storage.WatchEvent) {
	e := &ev
	var wire []byte
	if e.Type != storage.Deleted {
		// Before the lock: lists need not wait for it.
		kc.share.share(e.Object)
		wire = encode(e.Object)
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	// Snapshots wanted before this change are of the objects without it.
	kc.takeWanted(e.Revision)
	key := kc.keyOf(e.Object)
	var prev skiffv1.Resource
	if e.Type == storage.Deleted {
		prev = kc.objects.remove(key)
	} else {
		prev = kc.objects.set(key, e.Object, wire)
	}
	if prev != nil && (e.Prev == nil || prev.GetMetadata().GetResourceVersion() == e.Prev.GetMetadata().GetResourceVersion()) {
		// The object before the change, held already: the etcd watch
		// does not decode it for a modification (WithoutModifiedPrev),
		// and a deletion's is one copy, not two.
		e.Prev = prev
	}
	capacity := kc.c.cfg.Capacity
	if kc.ring == nil {
		kc.ring = make([]*storage.WatchEvent, 0, min(capacity, 64))
	}
	if kc.size == capacity {
		// The oldest goes: a watcher must now start at or after it.
		kc.from = max(kc.from, kc.ring[kc.head].Revision)
		kc.ring[kc.head] = e
		kc.head = (kc.head + 1) % capacity
	} else {
		kc.ring = append(kc.ring, e)
		kc.size++
	}
	kc.changed = e.Revision
	kc.setCur(e.Revision)
	kc.c.metrics.ringSize(kc.kind, kc.size)
	for w := range kc.watchers {
		if e.Revision <= w.start || !w.wants(e) {
			continue
		}
		if !w.push(e) {
			delete(kc.watchers, w)
			kc.c.metrics.watchers(kc.kind, -1)
			kc.c.metrics.slow(kc.kind)
		}
	}
}

// progress tells every watcher that has not heard of it yet the revision
// the kind has reached.
func (kc *kind) progress() {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	var bm *storage.WatchEvent
	for w := range kc.watchers {
		if w.last >= kc.cur {
			continue
		}
		if bm == nil {
			bm = &storage.WatchEvent{Type: storage.Progress, Revision: kc.cur}
		}
		w.bookmark(bm)
	}
}

// at is the i-th oldest event in the ring.
func (kc *kind) at(i int) *storage.WatchEvent {
	return kc.ring[(kc.head+i)%len(kc.ring)]
}

// register adds a watcher from revision after, with the ring's events
// after it queued and room for queue more; errTooOld when the ring does
// not reach back to after, errGone when the kind's etcd watch has ended.
func (kc *kind) register(namespace string, after int64, match func(skiffv1.Resource) bool, queue int) (*Watcher, error) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.done {
		return nil, errGone
	}
	if after < kc.from {
		return nil, errTooOld
	}
	w := &Watcher{kc: kc, namespace: namespace, match: match, start: after, last: after, wake: make(chan struct{}, 1)}
	first := sort.Search(kc.size, func(i int) bool { return kc.at(i).Revision > after })
	for i := first; i < kc.size; i++ {
		if e := kc.at(i); w.wants(e) {
			w.queue = append(w.queue, e)
			w.last = e.Revision
		}
	}
	// What is queued now is not the watcher falling behind.
	w.limit = queue + len(w.queue)
	kc.watchers[w] = struct{}{}
	kc.c.metrics.watchers(kc.kind, 1)
	return w, nil
}

var errGone = errors.New("the kind's watch ended")

// remove drops a watcher that stopped.
func (kc *kind) remove(w *Watcher) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if _, ok := kc.watchers[w]; ok {
		delete(kc.watchers, w)
		kc.c.metrics.watchers(kc.kind, -1)
	}
}
