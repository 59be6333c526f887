package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// garbageCollector deletes objects whose owners are gone (a background
// cascade: the owner went first, its dependents follow, theirs after
// them), and pods bound to a node that no longer exists — those with
// force, since no agent will ever confirm their end.
//
// Its keys are "Kind/namespace/name" of possible dependents. An owner is
// judged gone only after the server confirms it: the caches may lag
// behind an owner that was just created.
type garbageCollector struct {
	c     *client.Client
	log   *slog.Logger
	nodes *client.SharedInformer[*skiffv1.Node]
	pods  *client.SharedInformer[*skiffv1.Pod]
	// caches by kind: where owners are looked up first, and the
	// dependents this collector watches.
	caches map[skiffv1.Kind]cache
	// absent holds the UIDs of owners whose deletion the caches showed.
	// UIDs are never reused, so a dependent of one needs no lookup: the
	// server's answer would be the same, one read per dependent later
	// (Kubernetes' absentOwnerCache).
	absent *recentSet
	r      *reconciler
}

// recentSet holds the newest keys added to it, up to a bound.
type recentSet struct {
	mu    sync.Mutex
	keys  map[string]struct{}
	order []string // a ring: next is where the next key goes
	next  int
}

func newRecentSet(size int) *recentSet {
	return &recentSet{keys: make(map[string]struct{}, size), order: make([]string, size)}
}

func (s *recentSet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k]; ok {
		return
	}
	if old := s.order[s.next]; old != "" {
		delete(s.keys, old)
	}
	s.order[s.next] = k
	s.next = (s.next + 1) % len(s.order)
	s.keys[k] = struct{}{}
}

func (s *recentSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[k]
	return ok
}

// cache is the kind-independent view of one informer.
type cache interface {
	get(key string) (skiffv1.Resource, bool)
	byOwner(uid string) []skiffv1.Resource
}

type informerCache[T skiffv1.Resource] struct{ inf *client.SharedInformer[T] }

func (c informerCache[T]) get(key string) (skiffv1.Resource, bool) {
	v, ok := c.inf.Get(key)
	return v, ok
}

func (c informerCache[T]) byOwner(uid string) []skiffv1.Resource {
	objs := c.inf.ByIndex(indexOwner, uid)
	out := make([]skiffv1.Resource, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

func newGarbageCollector(cfg *Config, inf *informers, m *metrics) *garbageCollector {
	gc := &garbageCollector{
		c: cfg.Client, log: cfg.Logger.With("controller", nameGarbage),
		nodes: inf.nodes, pods: inf.pods, caches: map[skiffv1.Kind]cache{},
		absent: newRecentSet(absentOwners),
	}
	gc.r = newReconciler(nameGarbage, cfg.Workers, cfg.Logger, m, gc.sync)
	watchDependents(gc, skiffv1.Kind_KIND_POD, inf.pods)
	watchDependents(gc, skiffv1.Kind_KIND_REPLICA_SET, inf.rss)
	watchDependents(gc, skiffv1.Kind_KIND_REPLICATION_CONTROLLER, inf.rcs)
	watchDependents(gc, skiffv1.Kind_KIND_AUTOSCALER, inf.autoscalers)
	watchDependents(gc, skiffv1.Kind_KIND_SERVICE, inf.services)
	watchDependents(gc, skiffv1.Kind_KIND_VOLUME, inf.volumes)
	watchDependents(gc, skiffv1.Kind_KIND_DEPLOYMENT, inf.deployments)
	watchDependents(gc, skiffv1.Kind_KIND_ENDPOINTS, inf.endpoints)
	watchDependents(gc, skiffv1.Kind_KIND_JOB, inf.jobs)
	watchDependents(gc, skiffv1.Kind_KIND_CRON_JOB, inf.cronJobs)
	watchDependents(gc, skiffv1.Kind_KIND_DAEMON_SET, inf.daemonSets)
	watchDependents(gc, skiffv1.Kind_KIND_STATEFUL_SET, inf.statefuls)
	watchDependents(gc, skiffv1.Kind_KIND_LEASE, inf.leases) // a node's, owned by its Node
	gc.caches[skiffv1.Kind_KIND_NODE] = informerCache[*skiffv1.Node]{inf.nodes}
	inf.nodes.AddHandler(client.Handler[*skiffv1.Node]{
		OnDelete: func(n *skiffv1.Node) {
			gc.ownerGone(n.GetMetadata().GetUid())
			for _, p := range inf.pods.ByIndex(indexNode, n.GetMetadata().GetName()) {
				gc.r.queue.Add(gcKey(skiffv1.Kind_KIND_POD, p))
			}
		},
	})
	inf.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd:    gc.checkNode,
		OnUpdate: func(_, p *skiffv1.Pod) { gc.checkNode(p) },
	})
	return gc
}

// watchDependents files the informer's objects as possible dependents,
// and its deletions as owners gone.
func watchDependents[T skiffv1.Resource](gc *garbageCollector, kind skiffv1.Kind, inf *client.SharedInformer[T]) {
	gc.caches[kind] = informerCache[T]{inf}
	enqueue := func(o T) {
		if len(o.GetMetadata().GetOwnerReferences()) > 0 {
			gc.r.queue.Add(gcKey(kind, o))
		}
	}
	inf.AddHandler(client.Handler[T]{
		OnAdd: enqueue,
		OnUpdate: func(old, o T) {
			// Every node renews its Lease every few seconds: only a change
			// of its owners (a Node registered anew) concerns the
			// collector. Its owner's deletion queues it through ownerGone.
			if kind == skiffv1.Kind_KIND_LEASE && sameOwners(old, o) {
				return
			}
			enqueue(o)
		},
		OnDelete: func(o T) { gc.ownerGone(o.GetMetadata().GetUid()) },
	})
}

// sameOwners reports whether a and b name the same owners, in order.
func sameOwners(a, b skiffv1.Resource) bool {
	ra, rb := a.GetMetadata().GetOwnerReferences(), b.GetMetadata().GetOwnerReferences()
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if ra[i].GetUid() != rb[i].GetUid() || ra[i].GetKind() != rb[i].GetKind() || ra[i].GetName() != rb[i].GetName() {
			return false
		}
	}
	return true
}

// absentOwners bounds how many deleted owners the collector remembers.
const absentOwners = 4096

// ownerGone queues every cached dependent of the object with uid.
func (gc *garbageCollector) ownerGone(uid string) {
	gc.absent.add(uid)
	for kind, c := range gc.caches {
		if kind == skiffv1.Kind_KIND_NODE {
			continue
		}
		for _, d := range c.byOwner(uid) {
			gc.r.queue.Add(gcKey(kind, d))
		}
	}
}

// checkNode queues a pod bound to a node the cache does not know. Before
// the nodes' cache has synced it cannot tell, so it queues the pod anyway
// (workers start after every cache synced, and sync asks the server): a
// pod whose node went while no collector ran has no later event.
func (gc *garbageCollector) checkNode(p *skiffv1.Pod) {
	n := p.GetSpec().GetNodeName()
	if n == "" {
		return
	}
	if _, ok := gc.nodes.Get(n); !ok || !gc.nodes.HasSynced() {
		gc.r.queue.Add(gcKey(skiffv1.Kind_KIND_POD, p))
	}
}

func gcKey(kind skiffv1.Kind, o skiffv1.Resource) string {
	info, _ := skiffv1.Info(kind)
	return info.Name + "/" + o.GetMetadata().GetNamespace() + "/" + o.GetMetadata().GetName()
}

func (gc *garbageCollector) sync(ctx context.Context, key string) error {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return nil
	}
	info, err := skiffv1.ParseKind(parts[0])
	if err != nil {
		return nil
	}
	c, ok := gc.caches[info.Kind]
	if !ok {
		return nil
	}
	obj, ok := c.get(client.Key(parts[1], parts[2]))
	if !ok {
		return nil
	}
	if pod, isPod := obj.(*skiffv1.Pod); isPod {
		done, err := gc.syncPodNode(ctx, pod)
		if done || err != nil {
			return err
		}
	}
	return gc.syncOwners(ctx, info, obj)
}

// syncPodNode force-deletes pod if its node is gone; done reports that it
// did (or that the pod is gone).
func (gc *garbageCollector) syncPodNode(ctx context.Context, pod *skiffv1.Pod) (done bool, err error) {
	node := pod.GetSpec().GetNodeName()
	if node == "" {
		return false, nil
	}
	if _, ok := gc.nodes.Get(node); ok {
		return false, nil
	}
	cctx, cancel := call(ctx)
	_, err = gc.c.Nodes().Get(cctx, "", node)
	cancel()
	if err == nil {
		return false, nil // created since; the cache will catch up
	}
	if !client.IsNotFound(err) {
		return false, fmt.Errorf("garbagecollector: look up node %s of pod %s: %w", node, client.KeyOf(pod), err)
	}
	gc.log.Info("deleting pod of a deleted node", "pod", client.KeyOf(pod), "node", node)
	return true, gc.delete(ctx, skiffv1.Kind_KIND_POD, pod, "", true)
}

// syncOwners deletes obj when none of its owners exists any more, and
// drops the references to the owners that are gone when some remain.
func (gc *garbageCollector) syncOwners(ctx context.Context, info skiffv1.KindInfo, obj skiffv1.Resource) error {
	refs := obj.GetMetadata().GetOwnerReferences()
	if len(refs) == 0 || obj.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	gone, err := gc.goneOwners(ctx, obj)
	if err != nil || len(gone) == 0 {
		return err
	}
	// The cache may be behind: an `Orphan` deletion strips the references
	// before the owner goes, and this object's informer may not have
	// shown that yet. Decide on the server's copy, and delete only that
	// very version.
	cctx, cancel := call(ctx)
	fresh, err := gc.c.API().Get(cctx, &skiffv1.GetRequest{Kind: info.Kind, Namespace: obj.GetMetadata().GetNamespace(), Name: obj.GetMetadata().GetName()})
	cancel()
	if client.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("garbagecollector: re-read %s: %w", client.KeyOf(obj), err)
	}
	cur := fresh.Unwrap()
	m := cur.GetMetadata()
	if m.GetUid() != obj.GetMetadata().GetUid() || m.GetDeletionTimestamp() != nil {
		return nil
	}
	remaining := 0
	for _, ref := range m.GetOwnerReferences() {
		if !gone[ref.GetUid()] {
			remaining++
		}
	}
	switch {
	case remaining == len(m.GetOwnerReferences()):
		return nil // its references changed meanwhile; its update will queue it
	case remaining == 0:
		gc.log.Info("deleting dependent of a deleted owner", "kind", info.Name, "object", client.KeyOf(cur), "owner", refs[0].GetKind()+"/"+refs[0].GetName())
		return gc.delete(ctx, info.Kind, cur, m.GetResourceVersion(), false)
	}
	return gc.dropRefs(ctx, info, cur, gone)
}

// goneOwners returns the UIDs of obj's owners that no longer exist.
func (gc *garbageCollector) goneOwners(ctx context.Context, obj skiffv1.Resource) (map[string]bool, error) {
	gone := map[string]bool{}
	for _, ref := range obj.GetMetadata().GetOwnerReferences() {
		exists, err := gc.ownerExists(ctx, obj.GetMetadata().GetNamespace(), ref)
		if err != nil {
			return nil, err
		}
		if !exists {
			gone[ref.GetUid()] = true
		}
	}
	return gone, nil
}

// ownerExists asks the cache, and the server when the cache says no.
func (gc *garbageCollector) ownerExists(ctx context.Context, ns string, ref *skiffv1.OwnerReference) (bool, error) {
	info, err := skiffv1.ParseKind(ref.GetKind())
	if err != nil {
		// An owner of a kind we do not know: never collect on a guess.
		return true, nil
	}
	if !info.Namespaced {
		ns = ""
	}
	if gc.absent.has(ref.GetUid()) {
		return false, nil
	}
	if c, ok := gc.caches[info.Kind]; ok {
		if o, ok := c.get(client.Key(ns, ref.GetName())); ok && o.GetMetadata().GetUid() == ref.GetUid() {
			return true, nil
		}
	}
	cctx, cancel := call(ctx)
	defer cancel()
	o, err := gc.c.API().Get(cctx, &skiffv1.GetRequest{Kind: info.Kind, Namespace: ns, Name: ref.GetName()})
	if client.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("garbagecollector: look up owner %s %s: %w", info.Name, client.Key(ns, ref.GetName()), err)
	}
	return o.Unwrap().GetMetadata().GetUid() == ref.GetUid(), nil
}

// delete removes obj (this very object: the UID is a precondition, and
// so is resourceVersion when set).
func (gc *garbageCollector) delete(ctx context.Context, kind skiffv1.Kind, obj skiffv1.Resource, resourceVersion string, force bool) error {
	m := obj.GetMetadata()
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := gc.c.API().Delete(cctx, &skiffv1.DeleteRequest{
		Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid(), ResourceVersion: resourceVersion,
		Force: force, Propagation: "Background",
	})
	if client.IsConflict(err) && resourceVersion != "" {
		return fmt.Errorf("garbagecollector: %s changed while being deleted; looking again: %w", client.KeyOf(obj), err)
	}
	if err != nil && !client.IsNotFound(err) && !client.IsConflict(err) {
		return fmt.Errorf("garbagecollector: delete %s: %w", client.KeyOf(obj), err)
	}
	return nil
}

// dropRefs removes the references to the owners in gone from obj.
func (gc *garbageCollector) dropRefs(ctx context.Context, info skiffv1.KindInfo, obj skiffv1.Resource, gone map[string]bool) error {
	m := obj.GetMetadata()
	uid := m.GetUid()
	return client.RetryOnConflict(ctx, func() error {
		cctx, cancel := call(ctx)
		defer cancel()
		cur, err := gc.c.API().Get(cctx, &skiffv1.GetRequest{Kind: info.Kind, Namespace: m.GetNamespace(), Name: m.GetName()})
		if client.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		o := cur.Unwrap()
		cm := o.GetMetadata()
		if cm.GetUid() != uid {
			return nil
		}
		kept := cm.OwnerReferences[:0]
		for _, r := range cm.OwnerReferences {
			if !gone[r.GetUid()] {
				kept = append(kept, r)
			}
		}
		if len(kept) == len(cm.OwnerReferences) {
			return nil
		}
		cm.OwnerReferences = kept
		_, err = gc.c.API().Update(cctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(o)})
		if client.IsNotFound(err) {
			return nil
		}
		return err
	})
}
