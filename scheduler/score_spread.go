package scheduler

// ownerSpreadScorer spreads the pods of one owner (a replica set) across
// nodes, so losing a node loses few of them. The raw score is how many of
// the owner's pods a node holds; Normalize turns it into "fewer is better"
// relative to the most loaded feasible node.
type ownerSpreadScorer struct{}

func (ownerSpreadScorer) Name() string { return "OwnerSpread" }

func (ownerSpreadScorer) Score(p *PodInfo, n *NodeInfo) int64 {
	if p.Owner == "" {
		return 0
	}
	return int64(n.OwnerPods(p.Owner))
}

func (ownerSpreadScorer) Normalize(p *PodInfo, _ []*NodeInfo, scores []int64) {
	var most int64
	for _, s := range scores {
		most = max(most, s)
	}
	for i, s := range scores {
		if most == 0 {
			scores[i] = MaxScore
			continue
		}
		scores[i] = MaxScore * (most - s) / most
	}
}
