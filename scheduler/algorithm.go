package scheduler

// Algorithm picks a node for a pod from a snapshot of nodes. It does no I/O
// and keeps no state between calls, so a decision can be replayed from the
// same inputs.
type Algorithm struct {
	preFilters []PreFilter
	filters    []Filter
	scorers    []weightedScorer
	percentage int
}

type weightedScorer struct {
	Scorer
	weight int64
}

// AlgorithmOptions tune an Algorithm.
type AlgorithmOptions struct {
	// PercentageOfNodesToScore bounds how many feasible nodes are looked for
	// before scoring, in percent of all nodes, like kube-scheduler's option of
	// the same name: on big clusters scoring every node buys little. 0 picks
	// adaptively (50% at 100 nodes down to 5% at 5,625 and more, but never
	// fewer than 100 nodes); 100 looks at every node.
	PercentageOfNodesToScore int
}

// Result is a decision.
type Result struct {
	Node      string
	Evaluated int // nodes the filters looked at
	Feasible  int // of which passed
}

// NewAlgorithm assembles the built-in filters and scorers. Filters run
// cheapest and most decisive first; a node's first failing filter is the
// reason it is counted under.
func NewAlgorithm(opts AlgorithmOptions) *Algorithm {
	a := &Algorithm{
		filters: []Filter{
			nodeConditionFilter{},
			nodeSelectorFilter{},
			taintFilter{},
			volumeFilter{},
			hostPortFilter{},
			resourceFilter{},
			topologySpread{},
			interPodAffinity{},
		},
		// Weights as kube-scheduler's default profile gives the plugins
		// of the same names.
		scorers: []weightedScorer{
			{leastAllocatedScorer{}, 1},
			{balancedScorer{}, 1},
			{ownerSpreadScorer{}, 2},
			{nodeAffinityScorer{}, 2},
			{topologySpread{}, 2},
			{interPodAffinity{}, 2},
		},
		percentage: opts.PercentageOfNodesToScore,
	}
	for _, f := range a.filters {
		if pf, ok := f.(PreFilter); ok {
			a.preFilters = append(a.preFilters, pf)
		}
	}
	return a
}

// Schedule picks the node for pod among nodes. The error is a *FitError
// when no node fits. Nodes are visited from an offset given by the pod's UID
// hash, so pods spread over a big cluster even when only a sample is scored,
// and the same pod and snapshot always give the same answer.
func (a *Algorithm) Schedule(pod *PodInfo, nodes []*NodeInfo, cluster Cluster) (Result, error) {
	if pod.Invalid != nil {
		return Result{}, &FitError{NumNodes: len(nodes), Pod: Reject(ReasonInvalidRequest, pod.Invalid.Error())}
	}
	// The assumed pod's PodInfo stays in the cache: it must not keep the
	// per-domain counts (thousands of entries with a hostname key).
	defer func() { pod.interPod, pod.spreadState = nil, nil }()
	for _, pf := range a.preFilters {
		if st := pf.PreFilter(pod, nodes, cluster); st != nil {
			return Result{}, &FitError{NumNodes: len(nodes), Pod: st}
		}
	}
	n := len(nodes)
	if n == 0 {
		return Result{}, &FitError{}
	}
	want := a.numFeasibleToFind(n)
	feasible := make([]*NodeInfo, 0, min(want, n))
	var failed map[string]*Status
	start := int(pod.hash % uint64(n))
	evaluated := 0
	for i := 0; i < n && len(feasible) < want; i++ {
		node := nodes[(start+i)%n]
		evaluated++
		if st := a.filter(pod, node); st != nil {
			if failed == nil {
				failed = map[string]*Status{}
			}
			failed[node.Name] = st
			continue
		}
		feasible = append(feasible, node)
	}
	if len(feasible) == 0 {
		if st := lostVolumeNode(pod, nodes); st != nil {
			return Result{}, &FitError{NumNodes: n, Pod: st}
		}
		return Result{}, &FitError{NumNodes: n, Nodes: failed}
	}
	res := Result{Evaluated: evaluated, Feasible: len(feasible)}
	if len(feasible) == 1 {
		res.Node = feasible[0].Name
		return res, nil
	}
	res.Node = feasible[a.pick(pod, feasible)].Name
	return res, nil
}

func (a *Algorithm) filter(pod *PodInfo, node *NodeInfo) *Status {
	for _, f := range a.filters {
		if st := f.Filter(pod, node); st != nil {
			return st
		}
	}
	return nil
}

// pick scores the feasible nodes and returns the index of the best; ties go
// to the node whose name hashes lowest under the pod's UID hash.
func (a *Algorithm) pick(pod *PodInfo, nodes []*NodeInfo) int {
	totals := make([]int64, len(nodes))
	raw := make([]int64, len(nodes))
	for _, s := range a.scorers {
		for i, n := range nodes {
			raw[i] = s.Score(pod, n)
		}
		if norm, ok := s.Scorer.(Normalizer); ok {
			norm.Normalize(pod, nodes, raw)
		}
		for i := range raw {
			totals[i] += s.weight * raw[i]
		}
	}
	best, bestHash := 0, tieHash(pod.hash, nodes[0].Name)
	for i := 1; i < len(nodes); i++ {
		switch {
		case totals[i] > totals[best]:
			best, bestHash = i, tieHash(pod.hash, nodes[i].Name)
		case totals[i] == totals[best]:
			if h := tieHash(pod.hash, nodes[i].Name); h < bestHash {
				best, bestHash = i, h
			}
		}
	}
	return best
}

// tieHash continues FNV-1a from the pod's UID hash over the node name.
func tieHash(seed uint64, name string) uint64 {
	const prime = 1099511628211
	h := seed
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= prime
	}
	return h
}

// numFeasibleToFind is how many feasible nodes to collect before scoring.
func (a *Algorithm) numFeasibleToFind(n int) int {
	const minNodes = 100
	if n <= minNodes || a.percentage >= 100 {
		return n
	}
	pct := a.percentage
	if pct <= 0 {
		pct = max(50-n/125, 5)
	}
	return max(n*pct/100, minNodes)
}
