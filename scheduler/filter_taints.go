package scheduler

import skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"

// taintFilter keeps pods off nodes with a NoSchedule or NoExecute taint they
// do not tolerate. PreferNoSchedule taints are not hard limits and are
// ignored here.
type taintFilter struct{}

func (taintFilter) Name() string { return "TaintToleration" }

func (taintFilter) Filter(p *PodInfo, n *NodeInfo) *Status {
	tols := p.Pod.GetSpec().GetTolerations()
	for _, t := range n.Taints {
		if !tolerated(t, tols) {
			return Reject(ReasonUntoleratedTaint, taintString(t))
		}
	}
	return nil
}

func tolerated(t *skiffv1.Taint, tols []*skiffv1.Toleration) bool {
	for _, tol := range tols {
		if tol.ToleratesTaint(t) {
			return true
		}
	}
	return false
}

// taintString is "key=value", or "key" for a taint without value.
func taintString(t *skiffv1.Taint) string {
	if t.GetValue() == "" {
		return t.GetKey()
	}
	return t.GetKey() + "=" + t.GetValue()
}
