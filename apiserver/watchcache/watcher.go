package watchcache

import (
	"context"
	"sync"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Watcher is one client's watch, served from the cache or, for a revision
// the cache does not reach back to, straight from etcd. Read it with Next
// from one goroutine; Stop it when done.
type Watcher struct {
	// Served from the cache.
	kc        *kind
	namespace string
	match     func(skiffv1.Resource) bool
	start     int64 // events at or before it are not wanted
	last      int64 // newest revision queued (guarded by kc.mu)
	wake      chan struct{}

	mu    sync.Mutex
	queue []*storage.WatchEvent // waiting for Next, from head on
	head  int
	limit int
	ended bool
	err   error // handed out by Next once the queue is empty

	// Served from etcd.
	direct <-chan storage.WatchEvent
	cancel context.CancelFunc
}

// Direct watches etcd through src with no cache: what a server started
// with --watch-cache=false does, and the cache's fallback.
func Direct(ctx context.Context, src Source, k skiffv1.Kind, namespace string, after int64) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	return &Watcher{direct: src.Watch(ctx, k, namespace, after), cancel: cancel}
}

// ended is a watcher whose only event is err.
func ended(err error) *Watcher {
	return &Watcher{ended: true, err: err}
}

// Next blocks for the next event, as a receive from storage.Store.Watch's
// channel: an event with Err is the last one; ok is false once the watch
// is over or ctx ended.
func (w *Watcher) Next(ctx context.Context) (ev storage.WatchEvent, ok bool) {
	if w.direct != nil {
		select {
		case ev, ok = <-w.direct:
			return ev, ok
		case <-ctx.Done():
			return ev, false
		}
	}
	for {
		w.mu.Lock()
		if w.head < len(w.queue) {
			e := w.queue[w.head]
			w.queue[w.head] = nil
			w.head++
			if w.head == len(w.queue) {
				w.queue, w.head = w.queue[:0], 0
			}
			w.mu.Unlock()
			return *e, true
		}
		if w.ended {
			err := w.err
			w.err = nil
			w.mu.Unlock()
			return storage.WatchEvent{Err: err}, err != nil
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-ctx.Done():
			return ev, false
		}
	}
}

// Stop ends the watch.
func (w *Watcher) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
	if w.kc != nil {
		w.kc.remove(w)
	}
	w.mu.Lock()
	w.ended, w.err, w.queue = true, nil, nil
	w.mu.Unlock()
}

// wants says whether an event concerns the watcher: its namespace, and an
// object its selector accepts before or after the change.
func (w *Watcher) wants(e *storage.WatchEvent) bool {
	if w.namespace != "" && e.Object.GetMetadata().GetNamespace() != w.namespace {
		return false
	}
	if w.match == nil {
		return true
	}
	return w.match(e.Object) || (e.Prev != nil && w.match(e.Prev))
}

// push queues an event; false when the watcher was too far behind and is
// now ended (it gets ErrTooSlow after what it was already given). Called
// with kc.mu held.
func (w *Watcher) push(e *storage.WatchEvent) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return false
	}
	if len(w.queue)-w.head >= w.limit {
		w.ended, w.err = true, tooSlow(w.limit)
		w.signal()
		return false
	}
	w.enqueue(e)
	w.last = e.Revision
	return true
}

// bookmark queues a progress event unless the queue is full: a later
// event or bookmark says the same. Called with kc.mu held.
func (w *Watcher) bookmark(e *storage.WatchEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended || len(w.queue)-w.head >= w.limit {
		return
	}
	w.enqueue(e)
	w.last = e.Revision
}

func (w *Watcher) enqueue(e *storage.WatchEvent) {
	if w.head > 0 && len(w.queue) == cap(w.queue) {
		// Reuse the consumed front rather than grow.
		n := copy(w.queue, w.queue[w.head:])
		clear(w.queue[n:])
		w.queue, w.head = w.queue[:n], 0
	}
	w.queue = append(w.queue, e)
	w.signal()
}

// end ends the watcher with err once its queue is read.
func (w *Watcher) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.ended, w.err = true, err
	}
	w.signal()
}

// signal wakes Next; the channel holds one wake-up, never closed, so a
// waiting Next blocks rather than spins.
func (w *Watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
