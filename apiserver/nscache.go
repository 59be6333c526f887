package apiserver

import (
	"context"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// namespaceCache mirrors the namespaces from an etcd watch, so that every
// create need not read its namespace from etcd. It only answers "open" for
// namespaces it has seen; anything else is checked in etcd.
type namespaceCache struct {
	mu          sync.RWMutex
	terminating map[string]bool // name → being deleted
}

func (c *namespaceCache) open(name string) (known, open bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	term, ok := c.terminating[name]
	return ok, ok && !term
}

func (c *namespaceCache) set(obj skiffv1.Resource, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := obj.GetMetadata().GetName()
	if deleted {
		delete(c.terminating, name)
		return
	}
	c.terminating[name] = obj.GetMetadata().GetDeletionTimestamp() != nil
}

// run keeps the cache current until ctx ends.
func (c *namespaceCache) run(ctx context.Context, st *storage.Store) {
	for ctx.Err() == nil {
		objs, rev, err := st.List(ctx, skiffv1.Kind_KIND_NAMESPACE, "")
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		c.mu.Lock()
		c.terminating = map[string]bool{}
		c.mu.Unlock()
		for _, o := range objs {
			c.set(o, false)
		}
		for ev := range st.Watch(ctx, skiffv1.Kind_KIND_NAMESPACE, "", rev) {
			if ev.Err != nil || ev.Type == storage.Progress {
				continue
			}
			c.set(ev.Object, ev.Type == storage.Deleted)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
