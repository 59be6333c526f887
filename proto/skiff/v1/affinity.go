package skiffv1

import (
	"slices"
	"strconv"
)

// MatchesNode reports whether node satisfies a's required node affinity
// (true when there is none): any one term, every requirement of it.
func (a *Affinity) MatchesNode(node *Node) bool {
	req := a.GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution()
	if req == nil {
		return true
	}
	for _, t := range req.GetNodeSelectorTerms() {
		if t.Matches(node) {
			return true
		}
	}
	return false
}

// Matches reports whether node satisfies every requirement of the term.
// An empty term matches no node, as in Kubernetes.
func (t *NodeSelectorTerm) Matches(node *Node) bool {
	if len(t.GetMatchExpressions()) == 0 && len(t.GetMatchFields()) == 0 {
		return false
	}
	labels := node.GetMetadata().GetLabels()
	for _, r := range t.GetMatchExpressions() {
		v, ok := labels[r.GetKey()]
		if !r.matches(v, ok) {
			return false
		}
	}
	for _, r := range t.GetMatchFields() {
		if r.GetKey() != "metadata.name" || !r.matches(node.GetMetadata().GetName(), true) {
			return false
		}
	}
	return true
}

func (r *NodeSelectorRequirement) matches(v string, present bool) bool {
	switch r.GetOperator() {
	case "In":
		return present && slices.Contains(r.GetValues(), v)
	case "NotIn":
		return !present || !slices.Contains(r.GetValues(), v)
	case "Exists":
		return present
	case "DoesNotExist":
		return !present
	case "Gt", "Lt":
		if !present || len(r.GetValues()) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.GetValues()[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.GetOperator() == "Gt" {
			return have > want
		}
		return have < want
	}
	return false
}

// UnschedulableTaintKey is the taint Kubernetes shows for a cordoned node;
// a pod tolerating it (DaemonSet pods do) may still be placed there.
const UnschedulableTaintKey = "node.kubernetes.io/unschedulable"

// ToleratesUnschedulable: the pod may be placed on a cordoned node.
func (s *PodSpec) ToleratesUnschedulable() bool {
	t := &Taint{Key: UnschedulableTaintKey, Effect: "NoSchedule"}
	for _, tol := range s.GetTolerations() {
		if tol.ToleratesTaint(t) {
			return true
		}
	}
	return false
}

// Well-known node labels, as Kubernetes names them; agents set them when
// they register.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelOS       = "kubernetes.io/os"
	LabelArch     = "kubernetes.io/arch"
)
