package controller

import (
	"log/slog"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// replicaSets keeps each replica set's pod count at spec.replicas:
// creating pods from the template, deleting the surplus, adopting matching
// orphans and releasing pods that stopped matching, and reporting status.
// One runs for ReplicaSets and one for ReplicationControllers, which kind
// tells apart (replicakind.go).
type replicaSets struct {
	c     *client.Client
	pods  *client.SharedInformer[*skiffv1.Pod]
	kind  replicaKind
	exp   *expectations
	rec   *recorder
	log   *slog.Logger
	burst int
	r     *reconciler

	// disowned holds, by pod UID, when someone else removed this
	// controller's reference from a pod that still matches. That is what
	// an `Orphan` deletion of the replica set does just before the set
	// goes; adopting the pod back in between would hand it to the garbage
	// collector, and replacing it would make pods that are collected as
	// soon as the set is gone. Such pods are left alone, and their set
	// is not scaled, for orphanGrace (by pod UID and by set key).
	mu       sync.Mutex
	disowned map[string]time.Time
}

const orphanGrace = 5 * time.Second

func newReplicaSets(cfg *Config, inf *informers, m *metrics, rec *recorder) *replicaSets {
	return newReplicaController(cfg, inf, m, rec, nameReplicaSet, replicaSetKind{c: cfg.Client, inf: inf.rss})
}

// newReplicationControllers is the same controller over
// ReplicationControllers.
func newReplicationControllers(cfg *Config, inf *informers, m *metrics, rec *recorder) *replicaSets {
	return newReplicaController(cfg, inf, m, rec, nameReplicationController, replicationControllerKind{c: cfg.Client, inf: inf.rcs})
}

func newReplicaController(cfg *Config, inf *informers, m *metrics, rec *recorder, name string, kind replicaKind) *replicaSets {
	rs := &replicaSets{
		c: cfg.Client, pods: inf.pods, kind: kind, exp: newExpectations(),
		rec: rec, log: cfg.Logger.With("controller", name), burst: cfg.BurstReplicas,
		disowned: map[string]time.Time{},
	}
	rs.r = newReconciler(name, cfg.Workers, cfg.Logger, m, rs.sync)
	kind.watch(func(key string) { rs.r.queue.Add(key) }, func(key string) {
		rs.exp.forget(key)
		rs.r.queue.Add(key)
	})
	inf.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd:    rs.podAdded,
		OnUpdate: rs.podUpdated,
		OnDelete: rs.podDeleted,
	})
	return rs
}

// owner is the key of the replica set controlling pod, if that replica
// set is in the cache with the UID of the reference.
func (rs *replicaSets) owner(p *skiffv1.Pod) (string, bool) {
	ref := controllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != rs.kind.name() {
		return "", false
	}
	key := client.Key(p.GetMetadata().GetNamespace(), ref.GetName())
	set, ok := rs.kind.get(key)
	if !ok || set.GetMetadata().GetUid() != ref.GetUid() {
		return "", false
	}
	return key, true
}

// enqueueMatching queues every replica set whose selector matches an
// orphan pod: one of them may adopt it.
func (rs *replicaSets) enqueueMatching(p *skiffv1.Pod) {
	if controllerRef(p.GetMetadata()) != nil {
		return
	}
	for _, set := range rs.kind.inNamespace(p.GetMetadata().GetNamespace()) {
		sel, err := labels.FromLabelSelector(set.GetSpec().GetSelector())
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(p.GetMetadata().GetLabels()) {
			rs.r.queue.Add(client.KeyOf(set))
		}
	}
}

func (rs *replicaSets) podAdded(p *skiffv1.Pod) {
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		// Seen for the first time already going (a relist): a deletion.
		rs.podDeleted(p)
		return
	}
	if key, ok := rs.owner(p); ok {
		rs.exp.creationObserved(key)
		rs.r.queue.Add(key)
		return
	}
	rs.enqueueMatching(p)
}

func (rs *replicaSets) podUpdated(old, p *skiffv1.Pod) {
	if p.GetMetadata().GetDeletionTimestamp() != nil && old.GetMetadata().GetDeletionTimestamp() == nil {
		// A graceful deletion began: for counting, the pod is gone now.
		if key, ok := rs.owner(p); ok {
			rs.exp.deletionObserved(key, p.GetMetadata().GetUid())
		}
	}
	// Labels or references may have changed: both the old and the new
	// owner look again, and so do the sets that might adopt it.
	if key, ok := rs.owner(old); ok {
		if controllerRef(p.GetMetadata()) == nil && !rs.releasing(p.GetMetadata().GetUid()) {
			rs.mu.Lock()
			rs.disowned[p.GetMetadata().GetUid()] = time.Now()
			rs.disowned["set/"+key] = time.Now()
			rs.mu.Unlock()
		}
		rs.r.queue.Add(key)
	}
	if key, ok := rs.owner(p); ok {
		rs.r.queue.Add(key)
		return
	}
	rs.enqueueMatching(p)
}

func (rs *replicaSets) podDeleted(p *skiffv1.Pod) {
	if key, ok := rs.owner(p); ok {
		rs.exp.deletionObserved(key, p.GetMetadata().GetUid())
		rs.r.queue.Add(key)
	}
}

// recentlyDisowned reports whether the pod with uid lost its controller
// reference to someone else less than orphanGrace ago, and how long is
// left; old entries are dropped on the way.
func (rs *replicaSets) recentlyDisowned(uid string) (bool, time.Duration) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	now := time.Now()
	for u, at := range rs.disowned {
		if now.Sub(at) >= orphanGrace {
			delete(rs.disowned, u)
		}
	}
	at, ok := rs.disowned[uid]
	if !ok {
		return false, 0
	}
	return true, orphanGrace - now.Sub(at)
}

// releasing marks (and reports) a release this controller itself makes,
// which is not a disowning by someone else.
func (rs *replicaSets) releasing(uid string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	_, ok := rs.disowned["self/"+uid]
	if ok {
		delete(rs.disowned, "self/"+uid)
	}
	return ok
}
