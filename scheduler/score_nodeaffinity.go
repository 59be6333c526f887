package scheduler

// nodeAffinityScorer is the score half of Kubernetes' NodeAffinity: a node
// scores the sum of the weights of the pod's preferred node affinity terms
// it matches, scaled so the best feasible node gets MaxScore.
type nodeAffinityScorer struct{}

func (nodeAffinityScorer) Name() string { return "NodeAffinity" }

func (nodeAffinityScorer) Score(p *PodInfo, n *NodeInfo) int64 {
	var s int64
	for _, t := range p.Pod.GetSpec().GetAffinity().GetNodeAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution() {
		if t.GetPreference().Matches(n.Node) {
			s += int64(t.GetWeight())
		}
	}
	return s
}

func (nodeAffinityScorer) Normalize(_ *PodInfo, _ []*NodeInfo, scores []int64) {
	var most int64
	for _, s := range scores {
		most = max(most, s)
	}
	for i, s := range scores {
		if most <= 0 {
			scores[i] = 0
			continue
		}
		scores[i] = MaxScore * max(s, 0) / most
	}
}
