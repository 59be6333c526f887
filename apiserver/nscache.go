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
	terminating map[string]nsState // name → being deleted
}

// nsState is what the cache knows of a namespace and the revision it
// learned it at, so that an older watch event cannot undo what Delete
// recorded directly.
type nsState struct {
	terminating bool
	rev         int64
}

func (c *namespaceCache) open(name string) (known, open bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, ok := c.terminating[name]
	return ok, ok && !st.terminating
}

func (c *namespaceCache) set(obj skiffv1.Resource, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(obj, deleted)
}

func (c *namespaceCache) setLocked(obj skiffv1.Resource, deleted bool) {
	name := obj.GetMetadata().GetName()
	rev := storage.Revision(obj)
	if cur, ok := c.terminating[name]; ok && cur.rev > rev {
		return
	}
	if deleted {
		delete(c.terminating, name)
		return
	}
	if c.terminating == nil {
		c.terminating = map[string]nsState{}
	}
	c.terminating[name] = nsState{terminating: obj.GetMetadata().GetDeletionTimestamp() != nil, rev: rev}
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
		listed := make(map[string]bool, len(objs))
		for _, o := range objs {
			listed[o.GetMetadata().GetName()] = true
			c.setLocked(o, false)
		}
		for name, st := range c.terminating {
			if !listed[name] && st.rev <= rev {
				delete(c.terminating, name)
			}
		}
		c.mu.Unlock()
		for ev := range st.Watch(ctx, skiffv1.Kind_KIND_NAMESPACE, "", rev) {
			if ev.Err != nil || ev.Type == storage.Progress {
				continue
			}
			c.set(ev.Object, ev.Type == storage.Deleted)
		}
		// A watch that ends at once, again and again, must not turn this
		// into a loop of lists as fast as etcd answers.
		sleep(ctx, 100*time.Millisecond)
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
