package controller

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// replicaKind is what the replica set controller needs of a kind that
// keeps spec.replicas pods of a template. The controller sees every such
// object as a ReplicaSet: a ReplicationController is one whose selector
// is its map as matchLabels, so both kinds share one reconcile.
type replicaKind interface {
	// name is the kind in owner references and events.
	name() string
	// get and inNamespace read the informer's cache, as ReplicaSets.
	get(key string) (*skiffv1.ReplicaSet, bool)
	inNamespace(ns string) []*skiffv1.ReplicaSet
	// fetch reads the object's metadata from the server, not the cache.
	fetch(ctx context.Context, ns, name string) (*skiffv1.ObjectMeta, error)
	// writeStatus stores st unless the object already holds it.
	writeStatus(ctx context.Context, set *skiffv1.ReplicaSet, st *skiffv1.ReplicaSetStatus) error
	// watch calls changed with the key of every object added or updated
	// and deleted with the key of every object deleted.
	watch(changed, deleted func(key string))
}

type replicaSetKind struct {
	c   *client.Client
	inf *client.SharedInformer[*skiffv1.ReplicaSet]
}

func (replicaSetKind) name() string { return "ReplicaSet" }

func (k replicaSetKind) get(key string) (*skiffv1.ReplicaSet, bool) { return k.inf.Get(key) }

func (k replicaSetKind) inNamespace(ns string) []*skiffv1.ReplicaSet {
	return k.inf.ByIndex(indexNamespace, ns)
}

func (k replicaSetKind) fetch(ctx context.Context, ns, name string) (*skiffv1.ObjectMeta, error) {
	set, err := k.c.ReplicaSets().Get(ctx, ns, name)
	return set.GetMetadata(), err
}

func (k replicaSetKind) writeStatus(ctx context.Context, set *skiffv1.ReplicaSet, st *skiffv1.ReplicaSetStatus) error {
	if proto.Equal(st, set.GetStatus()) {
		return nil
	}
	next := &skiffv1.ReplicaSet{Metadata: proto.Clone(set.GetMetadata()).(*skiffv1.ObjectMeta), Status: st}
	// Last writer wins (no resource version): this controller is the only
	// writer of the status, and the uid guards against a replacement.
	next.Metadata.ResourceVersion = ""
	_, err := k.c.ReplicaSets().UpdateStatus(ctx, next)
	return err
}

func (k replicaSetKind) watch(changed, deleted func(string)) {
	k.inf.AddHandler(client.Handler[*skiffv1.ReplicaSet]{
		OnAdd:    func(o *skiffv1.ReplicaSet) { changed(client.KeyOf(o)) },
		OnUpdate: func(_, o *skiffv1.ReplicaSet) { changed(client.KeyOf(o)) },
		OnDelete: func(o *skiffv1.ReplicaSet) { deleted(client.KeyOf(o)) },
	})
}

type replicationControllerKind struct {
	c   *client.Client
	inf *client.SharedInformer[*skiffv1.ReplicationController]
}

func (replicationControllerKind) name() string { return "ReplicationController" }

func (k replicationControllerKind) get(key string) (*skiffv1.ReplicaSet, bool) {
	rc, ok := k.inf.Get(key)
	if !ok {
		return nil, false
	}
	return replicaSetView(rc), true
}

func (k replicationControllerKind) inNamespace(ns string) []*skiffv1.ReplicaSet {
	rcs := k.inf.ByIndex(indexNamespace, ns)
	out := make([]*skiffv1.ReplicaSet, len(rcs))
	for i, rc := range rcs {
		out[i] = replicaSetView(rc)
	}
	return out
}

func (k replicationControllerKind) fetch(ctx context.Context, ns, name string) (*skiffv1.ObjectMeta, error) {
	rc, err := k.c.ReplicationControllers().Get(ctx, ns, name)
	return rc.GetMetadata(), err
}

func (k replicationControllerKind) writeStatus(ctx context.Context, set *skiffv1.ReplicaSet, st *skiffv1.ReplicaSetStatus) error {
	want := &skiffv1.ReplicationControllerStatus{
		Replicas:             st.GetReplicas(),
		FullyLabeledReplicas: st.GetFullyLabeledReplicas(),
		ReadyReplicas:        st.GetReadyReplicas(),
		AvailableReplicas:    st.GetAvailableReplicas(),
		ObservedGeneration:   st.GetObservedGeneration(),
		Conditions:           st.GetConditions(),
	}
	if cur, ok := k.inf.Get(client.KeyOf(set)); ok && cur.GetMetadata().GetUid() == set.GetMetadata().GetUid() && proto.Equal(want, cur.GetStatus()) {
		return nil
	}
	next := &skiffv1.ReplicationController{Metadata: proto.Clone(set.GetMetadata()).(*skiffv1.ObjectMeta), Status: want}
	// As for ReplicaSets: the only writer of the status, guarded by uid.
	next.Metadata.ResourceVersion = ""
	_, err := k.c.ReplicationControllers().UpdateStatus(ctx, next)
	return err
}

func (k replicationControllerKind) watch(changed, deleted func(string)) {
	k.inf.AddHandler(client.Handler[*skiffv1.ReplicationController]{
		OnAdd:    func(o *skiffv1.ReplicationController) { changed(client.KeyOf(o)) },
		OnUpdate: func(_, o *skiffv1.ReplicationController) { changed(client.KeyOf(o)) },
		OnDelete: func(o *skiffv1.ReplicationController) { deleted(client.KeyOf(o)) },
	})
}

// replicaSetView is rc as the ReplicaSet the controller reconciles: the
// same metadata (name, uid, generation), count, template and status, and
// the selector's map as matchLabels. It shares rc's messages, which
// nobody modifies in place.
func replicaSetView(rc *skiffv1.ReplicationController) *skiffv1.ReplicaSet {
	s := rc.GetSpec()
	var replicas *int32
	if s != nil {
		replicas = s.Replicas
	}
	view := &skiffv1.ReplicaSet{
		Metadata: rc.GetMetadata(),
		Spec: &skiffv1.ReplicaSetSpec{
			Replicas:        replicas,
			Selector:        &skiffv1.LabelSelector{MatchLabels: s.GetSelector()},
			Template:        s.GetTemplate(),
			MinReadySeconds: s.GetMinReadySeconds(),
		},
	}
	if st := rc.GetStatus(); st != nil {
		view.Status = &skiffv1.ReplicaSetStatus{
			Replicas:             st.GetReplicas(),
			FullyLabeledReplicas: st.GetFullyLabeledReplicas(),
			ReadyReplicas:        st.GetReadyReplicas(),
			AvailableReplicas:    st.GetAvailableReplicas(),
			ObservedGeneration:   st.GetObservedGeneration(),
			Conditions:           st.GetConditions(),
		}
	}
	return view
}
