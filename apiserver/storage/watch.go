package storage

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// EventType says what happened to an object.
type EventType int

const (
	Added EventType = iota + 1
	Modified
	Deleted
	// Progress carries only a revision: everything before it was sent.
	Progress
)

// WatchEvent is one change; Prev is the object before it (nil for Added).
// Err, when set, is the last event: the watch ended (ErrCompacted when the
// start revision is no longer kept).
type WatchEvent struct {
	Type     EventType
	Object   skiffv1.Resource
	Prev     skiffv1.Resource
	Revision int64
	Err      error
}

// prevUnneeded marks a watch whose Modified events need no Prev.
type prevUnneeded struct{}

// WithoutModifiedPrev marks ctx so that a Watch made with it leaves Prev
// nil on Modified events instead of decoding it: for a watcher that holds
// every object already (the watch cache), whose previous value it has.
// Deleted events still carry the object deleted.
func WithoutModifiedPrev(ctx context.Context) context.Context {
	return context.WithValue(ctx, prevUnneeded{}, true)
}

// Watch streams the changes to objects of a kind (in one namespace when set)
// made after revision after (0: from now). The channel closes when ctx ends
// or after an event with Err.
func (s *Store) Watch(ctx context.Context, kind skiffv1.Kind, namespace string, after int64) <-chan WatchEvent {
	noPrev := ctx.Value(prevUnneeded{}) != nil
	out := make(chan WatchEvent, 64)
	info, ok := skiffv1.Info(kind)
	if !ok {
		out <- WatchEvent{Err: fmt.Errorf("storage: unknown kind %v", kind)}
		close(out)
		return out
	}
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify()}
	if after > 0 {
		opts = append(opts, clientv3.WithRev(after+1))
	}
	// RequireLeader makes the watch fail rather than hang when this member
	// is cut off from the cluster.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := s.etcd.Watch(wctx, prefixKey(info, namespace), opts...)
	s.metrics.watchStarted()
	go func() {
		defer close(out)
		defer cancel()
		defer s.metrics.watchEnded()
		send := func(ev WatchEvent) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range wch {
			if resp.CompactRevision != 0 {
				send(WatchEvent{Err: fmt.Errorf("%w: revision %d is older than the oldest kept (%d)", ErrCompacted, after, resp.CompactRevision)})
				return
			}
			if err := resp.Err(); err != nil {
				send(WatchEvent{Err: fmt.Errorf("storage: watch: %w", err)})
				return
			}
			// Recorded before the event goes out, so that whoever it
			// reaches reads it back (GetAtLeast).
			s.noteWatched(resp.Header.Revision)
			if resp.IsProgressNotify() {
				if !send(WatchEvent{Type: Progress, Revision: resp.Header.Revision}) {
					return
				}
				continue
			}
			for _, e := range resp.Events {
				ev, err := s.convert(info, e, noPrev)
				if err != nil {
					send(WatchEvent{Err: err})
					return
				}
				if !send(ev) {
					return
				}
			}
		}
		if ctx.Err() == nil {
			send(WatchEvent{Err: fmt.Errorf("storage: watch closed by etcd")})
		}
	}()
	return out
}

func (s *Store) convert(info skiffv1.KindInfo, e *clientv3.Event, noPrev bool) (WatchEvent, error) {
	ev := WatchEvent{Revision: e.Kv.ModRevision}
	var err error
	modified := e.Type != clientv3.EventTypeDelete && !e.IsCreate()
	if e.PrevKv != nil && !(noPrev && modified) {
		if ev.Prev, err = s.decode(info, e.PrevKv.Key, e.PrevKv.Value, e.PrevKv.ModRevision); err != nil {
			return ev, err
		}
	}
	switch {
	case e.Type == clientv3.EventTypeDelete:
		ev.Type = Deleted
		if e.PrevKv == nil {
			return ev, fmt.Errorf("storage: delete event without the previous value")
		}
		ev.Object, err = s.decode(info, e.PrevKv.Key, e.PrevKv.Value, e.Kv.ModRevision)
	case e.IsCreate():
		ev.Type = Added
		ev.Object, err = s.decode(info, e.Kv.Key, e.Kv.Value, e.Kv.ModRevision)
	default:
		ev.Type = Modified
		ev.Object, err = s.decode(info, e.Kv.Key, e.Kv.Value, e.Kv.ModRevision)
	}
	return ev, err
}

// RequestProgress asks etcd to tell the watches of this store that share
// a gRPC stream with ctx's (watches share one by their context's outgoing
// metadata) the revision it has reached, once every watch on that stream
// has been sent every event before it: a Progress event, even to a watch
// of a kind nobody wrote. The watch cache uses it to learn, without
// waiting for a write, that it is current.
func (s *Store) RequestProgress(ctx context.Context) error {
	// Watch adds RequireLeader to the metadata: so must the request.
	return s.etcd.RequestProgress(clientv3.WithRequireLeader(ctx))
}
