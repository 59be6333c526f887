package apiserver

import (
	"context"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Watch streams changes in revision order. With a selector, an object that
// starts matching arrives as ADDED and one that stops matching as DELETED,
// so a client's cache of the matching set stays exact.
func (s *Server) Watch(req *skiffv1.WatchRequest, stream skiffv1.Objects_WatchServer) error {
	info, err := kindOf(req.GetKind())
	if err != nil {
		return err
	}
	match, err := selectorPredicate(info.Kind, req.GetLabelSelector(), req.GetFieldSelector())
	if err != nil {
		return err
	}
	after, err := storage.ParseRevision(req.GetResourceVersion())
	if err != nil {
		return invalid("resourceVersion: %v", err)
	}
	ns := req.GetNamespace()
	if !info.Namespaced {
		ns = ""
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	r := ref{info: info, namespace: ns}
	var w *watchcache.Watcher
	if s.watches != nil {
		w = s.watches.Watch(ctx, info.Kind, ns, after, match)
	} else {
		w = watchcache.Direct(ctx, s.store, info.Kind, ns, after)
	}
	defer w.Stop()
	for {
		ev, ok := w.Next(ctx)
		if !ok {
			return nil
		}
		if ev.Err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return toStatus(ev.Err, r)
		}
		out := translate(ev, match)
		if out == nil {
			continue
		}
		if err := stream.Send(out); err != nil {
			return err
		}
	}
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
