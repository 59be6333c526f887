package client

import (
	"context"
	"fmt"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Event is one change seen by a watch.
type Event[T skiffv1.Resource] struct {
	Type            skiffv1.WatchEvent_Type
	Object          T // zero for bookmarks
	ResourceVersion string
}

// Watcher reads the events of one watch stream in order.
type Watcher[T skiffv1.Resource] struct {
	r      Resource[T]
	stream skiffv1.Objects_WatchClient
	cancel context.CancelFunc
}

// Watch streams the changes after resourceVersion (empty: from now). A
// revision the server has compacted away fails with codes.OutOfRange (see
// IsCompacted): list again and watch from the new revision.
func (r Resource[T]) Watch(ctx context.Context, opts ListOptions, resourceVersion string) (*Watcher[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := r.c.api.Watch(ctx, &skiffv1.WatchRequest{
		Kind: r.kind, Namespace: opts.Namespace, LabelSelector: opts.LabelSelector,
		FieldSelector: opts.FieldSelector, ResourceVersion: resourceVersion,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return &Watcher[T]{r: r, stream: stream, cancel: cancel}, nil
}

// Next blocks for the next event.
func (w *Watcher[T]) Next() (Event[T], error) {
	ev, err := w.stream.Recv()
	if err != nil {
		return Event[T]{}, err
	}
	out := Event[T]{Type: ev.Type, ResourceVersion: ev.ResourceVersion}
	if ev.Type == skiffv1.WatchEvent_BOOKMARK {
		return out, nil
	}
	obj, ok := ev.Object.Unwrap().(T)
	if !ok {
		return Event[T]{}, fmt.Errorf("client: watch of %v got a %v", w.r.kind, ev.Object.ObjectKind())
	}
	out.Object = obj
	return out, nil
}

// Stop ends the stream.
func (w *Watcher[T]) Stop() { w.cancel() }
