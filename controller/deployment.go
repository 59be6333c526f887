package controller

import (
	"log/slog"
	"strings"
	"sync"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// deployments roll each Deployment's pods from one template to the next
// through the replica sets it owns, one per template. Every event about a
// deployment, its replica sets or (for Recreate) their pods queues the
// deployment; sync then recomputes the next step from the caches (the
// arithmetic is in package rollout).
type deployments struct {
	c    *client.Client
	dps  *client.SharedInformer[*skiffv1.Deployment]
	rss  *client.SharedInformer[*skiffv1.ReplicaSet]
	pods *client.SharedInformer[*skiffv1.Pod]
	rec  *recorder
	log  *slog.Logger
	r    *reconciler

	// timedOut holds "deployment UID/replica set" of the rollouts whose
	// ProgressDeadlineExceeded event was recorded.
	timedOut sync.Map
}

func newDeployments(cfg *Config, inf *informers, m *metrics, rec *recorder) *deployments {
	d := &deployments{
		c: cfg.Client, dps: inf.deployments, rss: inf.rss, pods: inf.pods,
		rec: rec, log: cfg.Logger.With("controller", nameDeployment),
	}
	d.r = newReconciler(nameDeployment, cfg.Workers, cfg.Logger, m, d.sync)
	enqueue := func(o *skiffv1.Deployment) { d.r.queue.Add(client.KeyOf(o)) }
	inf.deployments.AddHandler(client.Handler[*skiffv1.Deployment]{
		OnAdd:    enqueue,
		OnUpdate: func(_, o *skiffv1.Deployment) { enqueue(o) },
		OnDelete: func(o *skiffv1.Deployment) {
			d.forgetTimeouts(o.GetMetadata().GetUid())
			enqueue(o)
		},
	})
	inf.rss.AddHandler(client.Handler[*skiffv1.ReplicaSet]{
		OnAdd: d.rsChanged,
		OnUpdate: func(old, rs *skiffv1.ReplicaSet) {
			d.rsChanged(old)
			d.rsChanged(rs)
		},
		OnDelete: d.rsChanged,
	})
	// Recreate waits for the old pods to be gone: their deletions matter.
	inf.pods.AddHandler(client.Handler[*skiffv1.Pod]{OnDelete: d.podDeleted})
	return d
}

// owner is the key of the deployment controlling o, if it is cached with
// the UID of the reference.
func (d *deployments) owner(m *skiffv1.ObjectMeta) (string, bool) {
	ref := controllerRef(m)
	if ref == nil || ref.GetKind() != "Deployment" {
		return "", false
	}
	key := client.Key(m.GetNamespace(), ref.GetName())
	dp, ok := d.dps.Get(key)
	if !ok || dp.GetMetadata().GetUid() != ref.GetUid() {
		return "", false
	}
	return key, true
}

// rsChanged queues the replica set's deployment, or for an orphan every
// deployment that might adopt it.
func (d *deployments) rsChanged(rs *skiffv1.ReplicaSet) {
	if key, ok := d.owner(rs.GetMetadata()); ok {
		d.r.queue.Add(key)
		return
	}
	if controllerRef(rs.GetMetadata()) != nil {
		return
	}
	for _, dp := range d.dps.ByIndex(indexNamespace, rs.GetMetadata().GetNamespace()) {
		sel, err := labels.FromLabelSelector(dp.GetSpec().GetSelector())
		if err == nil && !sel.Empty() && sel.Matches(rs.GetSpec().GetTemplate().GetMetadata().GetLabels()) {
			d.r.queue.Add(client.KeyOf(dp))
		}
	}
}

func (d *deployments) podDeleted(p *skiffv1.Pod) {
	ref := controllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != "ReplicaSet" {
		return
	}
	rs, ok := d.rss.Get(client.Key(p.GetMetadata().GetNamespace(), ref.GetName()))
	if !ok {
		return
	}
	if key, ok := d.owner(rs.GetMetadata()); ok {
		dp, _ := d.dps.Get(key)
		if dp.GetSpec().GetStrategy().GetType() == "Recreate" {
			d.r.queue.Add(key)
		}
	}
}

func (d *deployments) forgetTimeouts(uid string) {
	d.timedOut.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), uid+"/") {
			d.timedOut.Delete(k)
		}
		return true
	})
}
