package apiserver

import (
	"context"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// feed is where an index the server keeps in memory lists and watches a
// kind: etcd (*storage.Store), or the watch cache, whose objects the index
// then shares instead of holding copies of its own.
type feed interface {
	List(ctx context.Context, kind skiffv1.Kind, namespace string) ([]skiffv1.Resource, int64, error)
	Watch(ctx context.Context, kind skiffv1.Kind, namespace string, after int64) <-chan storage.WatchEvent
}

// cacheFeed reads through the watch cache.
type cacheFeed struct{ c *watchcache.Cache }

func (f cacheFeed) List(ctx context.Context, kind skiffv1.Kind, namespace string) ([]skiffv1.Resource, int64, error) {
	page, err := f.c.ListPage(ctx, kind, namespace, storage.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	return page.Items, page.Revision, nil
}

// Watch streams the cache's events as storage.Store.Watch does: the
// channel closes after an event with Err or when ctx ends.
func (f cacheFeed) Watch(ctx context.Context, kind skiffv1.Kind, namespace string, after int64) <-chan storage.WatchEvent {
	w := f.c.Watch(ctx, kind, namespace, after, nil)
	out := make(chan storage.WatchEvent, 64)
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			ev, ok := w.Next(ctx)
			if !ok {
				return
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
			if ev.Err != nil {
				return
			}
		}
	}()
	return out
}

// podFeed is what the pod index reads.
func (s *Server) podFeed() feed {
	if s.watches != nil {
		return cacheFeed{s.watches}
	}
	return s.store
}
