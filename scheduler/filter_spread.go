package scheduler

import "math"

// topologySpread is Kubernetes' PodTopologySpread. For each constraint the
// pre-filter counts, per domain (value of the topology key), the pods of
// the pod's namespace its selector matches on the nodes the constraint's
// policies admit. DoNotSchedule constraints filter: placing the pod must not
// leave its domain more than maxSkew above the emptiest domain.
// ScheduleAnyway constraints score: fewer matching pods is better.
type topologySpread struct{}

// spreadCounts is one constraint's census for one attempt.
type spreadCounts struct {
	c      *spreadConstraint
	counts map[string]int64 // domain → matching pods
	min    int64            // the emptiest eligible domain's count
	self   int64            // 1 when the pod matches its own selector
}

type spreadState struct {
	hard, soft []spreadCounts
}

func (topologySpread) Name() string { return "PodTopologySpread" }

func (topologySpread) PreFilter(p *PodInfo, nodes []*NodeInfo, c Cluster) *Status {
	p.spreadState = nil
	if len(p.spread) == 0 {
		return nil
	}
	st := &spreadState{}
	var hardKeys, softKeys []string
	for i := range p.spread {
		sc := &p.spread[i]
		if sc.hard {
			st.hard = append(st.hard, spreadCounts{c: sc, counts: map[string]int64{}})
			hardKeys = append(hardKeys, sc.topologyKey)
		} else {
			st.soft = append(st.soft, spreadCounts{c: sc, counts: map[string]int64{}})
			softKeys = append(softKeys, sc.topologyKey)
		}
	}
	// Every eligible node's domain exists, with 0 pods until counted.
	for _, n := range nodes {
		census(p, st.hard, hardKeys, n, func(sc *spreadCounts, v string) { sc.counts[v] += 0 })
		census(p, st.soft, softKeys, n, func(sc *spreadCounts, v string) { sc.counts[v] += 0 })
	}
	count := func(group []spreadCounts, keys []string) {
		for i := range group {
			sc := &group[i]
			if sc.c.none {
				continue
			}
			if sc.c.selector.Matches(p.Labels) {
				sc.self = 1
			}
			c.EachPodMaybeMatching(sc.c.selector, func(e *PodInfo, n *NodeInfo) {
				if e.Key == p.Key || !sc.c.selects(p, e) {
					return
				}
				if v, ok := eligibleDomain(p, sc.c, keys, n); ok {
					sc.counts[v]++
				}
			})
			sc.min = math.MaxInt64
			for _, n := range sc.counts {
				sc.min = min(sc.min, n)
			}
			if int64(len(sc.counts)) < sc.c.minDomains || sc.min == math.MaxInt64 {
				sc.min = 0
			}
		}
	}
	count(st.hard, hardKeys)
	count(st.soft, softKeys)
	p.spreadState = st
	return nil
}

// census calls fn for each constraint of group whose domain on n is
// eligible.
func census(p *PodInfo, group []spreadCounts, keys []string, n *NodeInfo, fn func(*spreadCounts, string)) {
	for i := range group {
		if v, ok := eligibleDomain(p, group[i].c, keys, n); ok {
			fn(&group[i], v)
		}
	}
}

// eligibleDomain is n's domain for constraint sc, when n counts for it: n
// has every key of the constraint's group (DoNotSchedule or ScheduleAnyway)
// and passes the constraint's node affinity and taint policies.
func eligibleDomain(p *PodInfo, sc *spreadConstraint, keys []string, n *NodeInfo) (string, bool) {
	if n.Node == nil {
		return "", false
	}
	nodeLabels := n.Node.GetMetadata().GetLabels()
	for _, k := range keys {
		if _, ok := nodeLabels[k]; !ok {
			return "", false
		}
	}
	if sc.honorAffinity && (nodeSelectorFilter{}).Filter(p, n) != nil {
		return "", false
	}
	if sc.honorTaints && (taintFilter{}).Filter(p, n) != nil {
		return "", false
	}
	return nodeLabels[sc.topologyKey], true
}

func (topologySpread) Filter(p *PodInfo, n *NodeInfo) *Status {
	st := p.spreadState
	if st == nil {
		return nil
	}
	for i := range st.hard {
		sc := &st.hard[i]
		v, ok := nodeLabel(n, sc.c.topologyKey)
		if !ok {
			return Reject(ReasonTopologyLabelMissing, "")
		}
		if sc.counts[v]+sc.self-sc.min > sc.c.maxSkew {
			return Reject(ReasonTopologySpread, "")
		}
	}
	return nil
}

// Score is computed in Normalize, which sees every feasible node: a
// constraint's weight grows with its number of domains among them.
func (topologySpread) Score(*PodInfo, *NodeInfo) int64 { return 0 }

// Normalize scores nodes by the matching pods in their domains, weighted
// per constraint by log(domains + 2), as kube-scheduler does: the node with
// the fewest gets MaxScore. Nodes lacking a key of a ScheduleAnyway
// constraint get 0.
func (topologySpread) Normalize(p *PodInfo, nodes []*NodeInfo, scores []int64) {
	st := p.spreadState
	if st == nil || len(st.soft) == 0 {
		return
	}
	keys := make([]string, len(st.soft))
	for i, sc := range st.soft {
		keys[i] = sc.c.topologyKey
	}
	ignored := make([]bool, len(nodes))
	domains := make([]map[string]bool, len(st.soft))
	for i := range domains {
		domains[i] = map[string]bool{}
	}
	for j, n := range nodes {
		for _, k := range keys {
			if _, ok := nodeLabel(n, k); !ok {
				ignored[j] = true
			}
		}
		if ignored[j] {
			continue
		}
		for i, k := range keys {
			v, _ := nodeLabel(n, k)
			domains[i][v] = true
		}
	}
	raw := make([]float64, len(nodes))
	lo, hi := math.Inf(1), math.Inf(-1)
	for j, n := range nodes {
		if ignored[j] {
			continue
		}
		for i, sc := range st.soft {
			v, _ := nodeLabel(n, keys[i])
			w := math.Log(float64(len(domains[i]) + 2))
			raw[j] += float64(sc.counts[v])*w + float64(sc.c.maxSkew-1)
		}
		lo, hi = min(lo, raw[j]), max(hi, raw[j])
	}
	for j := range nodes {
		switch {
		case ignored[j]:
			scores[j] = 0
		case hi == 0:
			scores[j] = MaxScore
		default:
			scores[j] = int64(math.Round(MaxScore * (hi + lo - raw[j]) / hi))
		}
	}
}
