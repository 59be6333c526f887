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
	kind   skiffv1.Kind
	recv   func() (*skiffv1.WatchEvent, error)
	cancel context.CancelFunc
}

// Watch streams the changes after resourceVersion (empty: from now). A
// revision the server has compacted away fails with codes.OutOfRange (see
// IsCompacted): list again and watch from the new revision.
func (r Resource[T]) Watch(ctx context.Context, opts ListOptions, resourceVersion string) (*Watcher[T], error) {
	return watchAs[T](ctx, grpcListerWatcher{r.c.api}, r.kind, opts, resourceVersion)
}

// watchAs is Watch through lw.
func watchAs[T skiffv1.Resource](ctx context.Context, lw ListerWatcher, kind skiffv1.Kind, opts ListOptions, resourceVersion string) (*Watcher[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	recv, err := lw.Watch(ctx, &skiffv1.WatchRequest{
		Kind: kind, Namespace: opts.Namespace, LabelSelector: opts.LabelSelector,
		FieldSelector: opts.FieldSelector, ResourceVersion: resourceVersion,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return &Watcher[T]{kind: kind, recv: recv, cancel: cancel}, nil
}

// Next blocks for the next event.
func (w *Watcher[T]) Next() (Event[T], error) {
	ev, err := w.recv()
	if err != nil {
		return Event[T]{}, err
	}
	out := Event[T]{Type: ev.Type, ResourceVersion: ev.ResourceVersion}
	if ev.Type == skiffv1.WatchEvent_BOOKMARK {
		return out, nil
	}
	obj, ok := ev.Object.Unwrap().(T)
	if !ok {
		return Event[T]{}, fmt.Errorf("client: watch of %v got a %v", w.kind, ev.Object.ObjectKind())
	}
	out.Object = obj
	return out, nil
}

// Stop ends the stream.
func (w *Watcher[T]) Stop() { w.cancel() }
