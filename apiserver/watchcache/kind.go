package watchcache

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// errTooOld: the revision asked for is before the ring's history.
var errTooOld = errors.New("revision older than the watch cache")

// kind is the cache of one kind: one etcd watch of every namespace, the
// ring of its recent events and the watchers they go to.
type kind struct {
	c    *Cache
	kind skiffv1.Kind

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
}

func newKind(c *Cache, k skiffv1.Kind) *kind {
	return &kind{c: c, kind: k, ready: make(chan struct{}), watchers: map[*Watcher]struct{}{}}
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
	kc.from, kc.cur = start, start
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	events := src.Watch(ctx, kc.kind, "", start)
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
				kc.progress(ev.Revision)
			default:
				kc.add(ev)
			}
		case <-tick.C:
			kc.progress(0)
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
	for w := range kc.watchers {
		w.end(err)
	}
	kc.c.metrics.watchers(kc.kind, -len(kc.watchers))
	kc.watchers = nil
	kc.ring, kc.size = nil, 0
	kc.c.metrics.ringSize(kc.kind, 0)
}

// add keeps an event and hands it to every watcher it concerns.
func (kc *kind) add(ev storage.WatchEvent) {
	e := &ev
	kc.mu.Lock()
	defer kc.mu.Unlock()
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
	kc.cur = max(kc.cur, e.Revision)
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

// progress notes that everything up to rev was received (0: nothing new)
// and tells every watcher that has not heard of it yet.
func (kc *kind) progress(rev int64) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.cur = max(kc.cur, rev)
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

// register adds a watcher from revision after, with the
// ring's events after it queued; errTooOld when the ring does not reach
// back to after, errGone when the kind's etcd watch has ended.
func (kc *kind) register(namespace string, after int64, match func(skiffv1.Resource) bool) (*Watcher, error) {
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
	w.limit = kc.c.cfg.WatcherQueue + len(w.queue)
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
