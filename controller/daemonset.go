package controller

import (
	"log/slog"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// daemonSets keeps one pod of each DaemonSet on every node that should run
// it: the node matches the template's nodeSelector and node affinity, and
// the pod (with the tolerations every daemon pod gets) tolerates the
// node's NoSchedule and NoExecute taints. Cordoned nodes still run daemon
// pods, as in Kubernetes.
//
// Pods are placed through the scheduler, as Kubernetes does since 1.12:
// each is made with a required node affinity to its node (metadata.name),
// so the scheduler's resource fit, host ports and volume checks hold for
// daemon pods too; a pod that does not fit stays Pending with the
// scheduler's reason.
type daemonSets struct {
	c     *client.Client
	pods  *client.SharedInformer[*skiffv1.Pod]
	nodes *client.SharedInformer[*skiffv1.Node]
	dss   *client.SharedInformer[*skiffv1.DaemonSet]
	exp   *expectations
	rec   *recorder
	log   *slog.Logger
	burst int
	r     *reconciler
}

func newDaemonSets(cfg *Config, inf *informers, m *metrics, rec *recorder) *daemonSets {
	dc := &daemonSets{
		c: cfg.Client, pods: inf.pods, nodes: inf.nodes, dss: inf.daemonSets, exp: newExpectations(),
		rec: rec, log: cfg.Logger.With("controller", nameDaemonSet), burst: cfg.BurstReplicas,
	}
	dc.r = newReconciler(nameDaemonSet, cfg.Workers, cfg.Logger, m, dc.sync)
	inf.daemonSets.AddHandler(client.Handler[*skiffv1.DaemonSet]{
		OnAdd:    func(o *skiffv1.DaemonSet) { dc.r.queue.Add(client.KeyOf(o)) },
		OnUpdate: func(_, o *skiffv1.DaemonSet) { dc.r.queue.Add(client.KeyOf(o)) },
		OnDelete: func(o *skiffv1.DaemonSet) { dc.exp.forget(client.KeyOf(o)) },
	})
	inf.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd: func(p *skiffv1.Pod) {
			if key, ok := dc.owner(p); ok {
				dc.exp.creationObserved(key)
				dc.r.queue.Add(key)
			}
		},
		OnUpdate: func(old, p *skiffv1.Pod) {
			if key, ok := dc.owner(p); ok {
				if p.GetMetadata().GetDeletionTimestamp() != nil && old.GetMetadata().GetDeletionTimestamp() == nil {
					dc.exp.deletionObserved(key, p.GetMetadata().GetUid())
				}
				dc.r.queue.Add(key)
			}
		},
		OnDelete: func(p *skiffv1.Pod) {
			if key, ok := dc.owner(p); ok {
				dc.exp.deletionObserved(key, p.GetMetadata().GetUid())
				dc.r.queue.Add(key)
			}
		},
	})
	// Which nodes should run a daemon pod changes with any node's labels,
	// taints or existence: every DaemonSet looks again.
	all := func() {
		for _, ds := range dc.dss.List() {
			dc.r.queue.Add(client.KeyOf(ds))
		}
	}
	inf.nodes.AddHandler(client.Handler[*skiffv1.Node]{
		OnAdd: func(*skiffv1.Node) { all() },
		OnUpdate: func(old, n *skiffv1.Node) {
			if nodeSchedulingChanged(old, n) {
				all()
			}
		},
		OnDelete: func(*skiffv1.Node) { all() },
	})
	return dc
}

// nodeSchedulingChanged: something a daemon pod's placement depends on
// changed (heartbeats alone change nothing).
func nodeSchedulingChanged(old, n *skiffv1.Node) bool {
	return !mapsEqual(old.GetMetadata().GetLabels(), n.GetMetadata().GetLabels()) ||
		!taintsEqual(old.GetSpec().GetTaints(), n.GetSpec().GetTaints()) ||
		old.GetSpec().GetUnschedulable() != n.GetSpec().GetUnschedulable() ||
		skiffv1.IsConditionTrue(old.GetStatus().GetConditions(), "Ready") != skiffv1.IsConditionTrue(n.GetStatus().GetConditions(), "Ready")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func taintsEqual(a, b []*skiffv1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetKey() != b[i].GetKey() || a[i].GetValue() != b[i].GetValue() || a[i].GetEffect() != b[i].GetEffect() {
			return false
		}
	}
	return true
}

// owner is the key of the DaemonSet controlling p, if it is cached with
// the reference's UID.
func (dc *daemonSets) owner(p *skiffv1.Pod) (string, bool) {
	ref := controllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != "DaemonSet" {
		return "", false
	}
	key := client.Key(p.GetMetadata().GetNamespace(), ref.GetName())
	ds, ok := dc.dss.Get(key)
	if !ok || ds.GetMetadata().GetUid() != ref.GetUid() {
		return "", false
	}
	return key, true
}

// daemonTolerations are what Kubernetes adds to every DaemonSet pod, so a
// node's trouble does not evict its agents and a cordon does not keep them
// off; skiff's own unreachable taint is tolerated the same way.
func daemonTolerations() []*skiffv1.Toleration {
	return []*skiffv1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute"},
		{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute"},
		{Key: TaintUnreachable, Operator: "Exists", Effect: "NoExecute"},
		{Key: "node.kubernetes.io/disk-pressure", Operator: "Exists", Effect: "NoSchedule"},
		{Key: "node.kubernetes.io/memory-pressure", Operator: "Exists", Effect: "NoSchedule"},
		{Key: "node.kubernetes.io/pid-pressure", Operator: "Exists", Effect: "NoSchedule"},
		{Key: skiffv1.UnschedulableTaintKey, Operator: "Exists", Effect: "NoSchedule"},
	}
}

// withDaemonTolerations adds the daemon tolerations the spec lacks.
func withDaemonTolerations(tols []*skiffv1.Toleration) []*skiffv1.Toleration {
	out := append([]*skiffv1.Toleration(nil), tols...)
	for _, d := range daemonTolerations() {
		have := false
		for _, t := range tols {
			if t.GetKey() == d.GetKey() && t.GetEffect() == d.GetEffect() && t.GetOperator() == d.GetOperator() {
				have = true
				break
			}
		}
		if !have {
			out = append(out, d)
		}
	}
	return out
}

// nodePlacement says whether a daemon pod of tmpl should be on node:
// run (a new one may be placed there) and keep (one already there may
// stay: only NoExecute taints and a mismatch of labels send it away).
func nodePlacement(tmpl *skiffv1.PodSpec, node *skiffv1.Node) (run, keep bool) {
	if node.GetMetadata().GetDeletionTimestamp() != nil {
		return false, false
	}
	labels := node.GetMetadata().GetLabels()
	for k, v := range tmpl.GetNodeSelector() {
		if labels[k] != v {
			return false, false
		}
	}
	if !tmpl.GetAffinity().MatchesNode(node) {
		return false, false
	}
	tols := withDaemonTolerations(tmpl.GetTolerations())
	run, keep = true, true
	for _, t := range node.GetSpec().GetTaints() {
		if t.GetEffect() != "NoSchedule" && t.GetEffect() != "NoExecute" {
			continue
		}
		ok := false
		for _, tol := range tols {
			if tol.ToleratesTaint(t) {
				ok = true
				break
			}
		}
		if !ok {
			run = false
			if t.GetEffect() == "NoExecute" {
				keep = false
			}
		}
	}
	return run, keep
}

// pinToNode replaces the pod's required node affinity by one to node, as
// Kubernetes' DaemonSet controller does: the template's own terms were
// checked against the node already.
func pinToNode(spec *skiffv1.PodSpec, node string) {
	if spec.Affinity == nil {
		spec.Affinity = &skiffv1.Affinity{}
	}
	spec.Affinity.NodeAffinity = &skiffv1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &skiffv1.NodeSelector{
		NodeSelectorTerms: []*skiffv1.NodeSelectorTerm{{MatchFields: []*skiffv1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: "In", Values: []string{node}},
		}}},
	}}
}

// daemonPodNode is the node a daemon pod is on, or pinned to while it
// waits for the scheduler.
func daemonPodNode(p *skiffv1.Pod) string {
	if n := p.GetSpec().GetNodeName(); n != "" {
		return n
	}
	for _, t := range p.GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms() {
		for _, f := range t.GetMatchFields() {
			if f.GetKey() == "metadata.name" && f.GetOperator() == "In" && len(f.GetValues()) == 1 {
				return f.GetValues()[0]
			}
		}
	}
	return ""
}
