package apiserver

import (
	"context"
	"io"

	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Watch streams changes in revision order. With a selector, an object that
// starts matching arrives as ADDED and one that stops matching as DELETED,
// so a client's cache of the matching set stays exact.
func (s *Server) Watch(req *skiffv1.WatchRequest, stream skiffv1.Objects_WatchServer) error {
	w, err := s.openWatch(stream.Context(), req, false)
	if err != nil {
		return err
	}
	defer w.close()
	for {
		ev, err := w.next()
		if err == io.EOF {
			// The client's deadline reaches the server as the stream's
			// and may fire here first: say so, as a status, so that the
			// client does not read a clean end of the watch it did not
			// ask for.
			if ctxErr := stream.Context().Err(); ctxErr != nil {
				return status.FromContextError(ctxErr).Err()
			}
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
}

// serverWatch is one open watch as Watch serves it, over gRPC or in
// process (InProcessReads).
type serverWatch struct {
	ctx    context.Context // ends with the caller's, or when the server stops
	cancel context.CancelFunc
	w      *watchcache.Watcher
	match  predicate
	r      ref
}

// inProcessQueueFactor multiplies the events an in-process reader's watch
// may fall behind before the cache ends it as too slow. Over gRPC the
// transport buffers besides the cache's queue (a stream's flow-control
// window grows to megabytes: thousands of events) before Send blocks; in
// process the queue is all there is, so it gets that room itself. It
// holds pointers to events the ring holds anyway.
const inProcessQueueFactor = 16

// openWatch checks req and starts its watch, from the watch cache when
// the server has one (with a longer queue for an in-process reader).
// close it when done.
func (s *Server) openWatch(ctx context.Context, req *skiffv1.WatchRequest, inProcess bool) (*serverWatch, error) {
	info, err := kindOf(req.GetKind())
	if err != nil {
		return nil, err
	}
	match, err := selectorPredicate(info.Kind, req.GetLabelSelector(), req.GetFieldSelector())
	if err != nil {
		return nil, err
	}
	after, err := storage.ParseRevision(req.GetResourceVersion())
	if err != nil {
		return nil, invalid("resourceVersion: %v", err)
	}
	ns := req.GetNamespace()
	if !info.Namespaced {
		ns = ""
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	var w *watchcache.Watcher
	if s.watches != nil {
		queue := s.watches.WatcherQueue()
		if inProcess {
			queue *= inProcessQueueFactor
		}
		w = s.watches.WatchQueued(ctx, info.Kind, ns, after, match, queue)
	} else {
		w = watchcache.Direct(ctx, s.store, info.Kind, ns, after)
	}
	return &serverWatch{ctx: ctx, cancel: cancel, w: w, match: match, r: ref{info: info, namespace: ns}}, nil
}

// next is the watch's next event for its client; io.EOF once the watch
// is over without an error (the caller's context ended, the server is
// stopping), or the error that ended it as a gRPC status.
func (sw *serverWatch) next() (*skiffv1.WatchEvent, error) {
	for {
		ev, ok := sw.w.Next(sw.ctx)
		if !ok {
			return nil, io.EOF
		}
		if ev.Err != nil {
			if sw.ctx.Err() != nil {
				return nil, io.EOF
			}
			return nil, toStatus(ev.Err, sw.r)
		}
		if out := translate(ev, sw.match); out != nil {
			return out, nil
		}
	}
}

// close ends the watch.
func (sw *serverWatch) close() {
	sw.cancel()
	sw.w.Stop()
}

// translate turns a storage event into what a client with this selector
// sees, or nil when the change does not concern it.
func translate(ev storage.WatchEvent, match predicate) *skiffv1.WatchEvent {
	rv := itoaRev(ev.Revision)
	if ev.Type == storage.Progress {
		return &skiffv1.WatchEvent{Type: skiffv1.WatchEvent_BOOKMARK, ResourceVersion: rv}
	}
	now := match(ev.Object)
	before := ev.Prev != nil && match(ev.Prev)
	var t skiffv1.WatchEvent_Type
	switch {
	case ev.Type == storage.Deleted:
		if !now && !before {
			return nil
		}
		t = skiffv1.WatchEvent_DELETED
	case now && before:
		t = skiffv1.WatchEvent_MODIFIED
	case now:
		t = skiffv1.WatchEvent_ADDED
	case before:
		t = skiffv1.WatchEvent_DELETED
	default:
		return nil
	}
	return &skiffv1.WatchEvent{Type: t, Object: skiffv1.Wrap(ev.Object), ResourceVersion: rv}
}
