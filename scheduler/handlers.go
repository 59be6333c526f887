package scheduler

import (
	"maps"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// addHandlers wires the informers to the cache and the queue. Handlers run
// on the informers' goroutines and only touch in-memory state.
func (r *run) addHandlers() {
	r.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd:    r.podChanged,
		OnUpdate: func(_, p *skiffv1.Pod) { r.podChanged(p) },
		OnDelete: r.podDeleted,
	})
	r.nodes.AddHandler(client.Handler[*skiffv1.Node]{
		OnAdd: func(n *skiffv1.Node) {
			r.cache.setNode(n)
			r.queue.moveAll()
		},
		OnUpdate: func(old, n *skiffv1.Node) {
			r.cache.setNode(n)
			if nodeChangeMayHelp(old, n) {
				r.queue.moveAll()
			}
		},
		OnDelete: func(n *skiffv1.Node) { r.cache.removeNode(n.GetMetadata().GetName()) },
	})
	// A volume that appears, or is pinned or released, may let a pod fit.
	r.volumes.AddHandler(client.Handler[*skiffv1.Volume]{
		OnAdd:    func(*skiffv1.Volume) { r.queue.moveAll() },
		OnUpdate: func(old, v *skiffv1.Volume) { r.queue.moveAll() },
	})
	// A namespace's labels decide which pods a namespaceSelector covers.
	r.namespaces.AddHandler(client.Handler[*skiffv1.Namespace]{
		OnUpdate: func(old, ns *skiffv1.Namespace) {
			if !maps.Equal(old.GetMetadata().GetLabels(), ns.GetMetadata().GetLabels()) {
				r.queue.moveAll()
			}
		},
	})
	// So may a PersistentVolume bound to a pod's claim.
	r.pvs.AddHandler(client.Handler[*skiffv1.PersistentVolume]{
		OnAdd:    func(*skiffv1.PersistentVolume) { r.queue.moveAll() },
		OnUpdate: func(_, _ *skiffv1.PersistentVolume) { r.queue.moveAll() },
	})
}

func (r *run) podChanged(p *skiffv1.Pod) {
	key := podKey(p)
	if p.GetSpec().GetNodeName() != "" {
		freed, added := r.cache.setPod(p)
		switch {
		case freed:
			r.queue.moveAll() // it finished: its room is free
		case added:
			// A new pod may be what a pod's required affinity or spread
			// constraint waits for.
			r.queue.moveWaitingForPods()
		}
		r.queue.remove(key)
		r.forgetReport(p)
		return
	}
	if p.GetMetadata().GetDeletionTimestamp() != nil || isTerminal(p) {
		r.queue.remove(key)
		r.forgetReport(p)
		return
	}
	if r.cache.isAssumed(key, p.GetMetadata().GetUid()) && !r.queue.has(key) {
		// Bound by us already; this is an older write (our status update)
		// arriving after the Bind returned. The bound version follows.
		return
	}
	r.queue.add(p)
}

func (r *run) podDeleted(p *skiffv1.Pod) {
	key := podKey(p)
	r.queue.remove(key)
	r.forgetReport(p)
	if r.cache.removePod(key) {
		r.queue.moveAll()
	}
}

// nodeChangeMayHelp ignores heartbeats and reported usage; it reports the
// changes that can let a waiting pod fit (or shift where it fits).
func nodeChangeMayHelp(old, n *skiffv1.Node) bool {
	return old.GetSpec().GetUnschedulable() != n.GetSpec().GetUnschedulable() ||
		skiffv1.IsNodeReady(old) != skiffv1.IsNodeReady(n) ||
		!maps.Equal(old.GetMetadata().GetLabels(), n.GetMetadata().GetLabels()) ||
		!maps.Equal(old.GetStatus().GetAllocatable(), n.GetStatus().GetAllocatable()) ||
		!maps.Equal(old.GetStatus().GetCapacity(), n.GetStatus().GetCapacity()) ||
		!taintsEqual(old.GetSpec().GetTaints(), n.GetSpec().GetTaints())
}

func taintsEqual(a, b []*skiffv1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
