package apiserver

import (
	"context"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podIndex mirrors the bound pods by node from an etcd watch, so that the
// node authorizer answers "may node N read Secret S" from the pods of N
// alone instead of listing every pod of the namespace from etcd (the
// lookup Kubernetes' node authorizer makes from its graph). It may lag a
// just-bound pod: a "no" from it is checked against etcd.
type podIndex struct {
	mu     sync.RWMutex
	synced bool
	byNode map[string]map[string]*skiffv1.Pod // node → namespace/name → pod
	nodeOf map[string]string                  // namespace/name → node
}

func podKey(p *skiffv1.Pod) string {
	return p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
}

// pods returns the pods of namespace bound to node; ok is false until the
// index has listed them once.
func (x *podIndex) pods(node, namespace string) (out []*skiffv1.Pod, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.synced {
		return nil, false
	}
	for _, p := range x.byNode[node] {
		if p.GetMetadata().GetNamespace() == namespace {
			out = append(out, p)
		}
	}
	return out, true
}

func (x *podIndex) setLocked(p *skiffv1.Pod, deleted bool) {
	key := podKey(p)
	if old, ok := x.nodeOf[key]; ok {
		delete(x.byNode[old], key)
		if len(x.byNode[old]) == 0 {
			delete(x.byNode, old)
		}
		delete(x.nodeOf, key)
	}
	node := p.GetSpec().GetNodeName()
	if deleted || node == "" {
		return
	}
	if x.byNode[node] == nil {
		x.byNode[node] = map[string]*skiffv1.Pod{}
	}
	x.byNode[node][key] = p
	x.nodeOf[key] = node
}

// run keeps the index current until ctx ends. Fed by the watch cache, it
// holds the cache's pods, not copies.
func (x *podIndex) run(ctx context.Context, st feed) {
	for ctx.Err() == nil {
		objs, rev, err := st.List(ctx, skiffv1.Kind_KIND_POD, "")
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		x.mu.Lock()
		x.byNode, x.nodeOf = map[string]map[string]*skiffv1.Pod{}, map[string]string{}
		for _, o := range objs {
			x.setLocked(o.(*skiffv1.Pod), false)
		}
		x.synced = true
		x.mu.Unlock()
		for ev := range st.Watch(ctx, skiffv1.Kind_KIND_POD, "", rev) {
			if ev.Err != nil || ev.Type == storage.Progress {
				continue
			}
			p, ok := ev.Object.(*skiffv1.Pod)
			if !ok {
				continue
			}
			x.mu.Lock()
			x.setLocked(p, ev.Type == storage.Deleted)
			x.mu.Unlock()
		}
		sleep(ctx, 100*time.Millisecond)
	}
}
