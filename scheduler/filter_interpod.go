package scheduler

// interPodAffinity is Kubernetes' InterPodAffinity: the filter keeps a pod
// out of topology domains its required anti-affinity terms match pods in,
// or whose pods' required anti-affinity matches it, and in domains where
// its required affinity terms match pods; the scorer sums the weights of
// preferred terms, the pod's and (symmetrically) the existing pods'.
//
// The pre-filter counts matching pods per topology domain once per attempt,
// visiting only the pods the cache's label index admits, so each node is
// then judged with a few map lookups.
type interPodAffinity struct{}

// hardAffinitySymmetricWeight is what an existing pod's required affinity
// term matching the incoming pod adds to its domain's score
// (kube-scheduler's hardPodAffinityWeight default).
const hardAffinitySymmetricWeight = 1

type topologyPair struct{ key, value string }

// domainCounts counts pods per topology domain, with the keys it holds so a
// node is checked for each key once.
type domainCounts struct {
	n    map[topologyPair]int64
	keys []string
}

func (d *domainCounts) add(key, value string, by int64) {
	if d.n == nil {
		d.n = map[topologyPair]int64{}
	}
	p := topologyPair{key, value}
	if _, ok := d.n[p]; !ok && !containsKey(d.keys, key) {
		d.keys = append(d.keys, key)
	}
	d.n[p] += by
}

func (d *domainCounts) get(key, value string) int64 { return d.n[topologyPair{key, value}] }

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// interPodState is what the pre-filter found for one attempt.
type interPodState struct {
	existingAnti domainCounts // domains existing pods' anti-affinity forbids
	affinity     domainCounts // pods matching all required affinity terms
	anti         domainCounts // pods matching each required anti-affinity term
	score        domainCounts // preferred weights, both ways
	// selfMatch: the pod matches its own required affinity terms.
	selfMatch bool
}

func (interPodAffinity) Name() string { return "InterPodAffinity" }

// nodeLabel is a node's value of a label key.
func nodeLabel(n *NodeInfo, key string) (string, bool) {
	v, ok := n.Node.GetMetadata().GetLabels()[key]
	return v, ok
}

func (interPodAffinity) PreFilter(p *PodInfo, _ []*NodeInfo, c Cluster) *Status {
	st := &interPodState{}
	p.interPod = st
	nsLabels := c.NamespaceLabels
	// The existing pods' terms that match the incoming pod.
	c.EachPodWithTermsFor(p, func(e *PodInfo, n *NodeInfo) {
		if e.Key == p.Key || n.Node == nil {
			return
		}
		for _, t := range e.terms.requiredAnti {
			if v, ok := nodeLabel(n, t.topologyKey); ok && t.matches(p, nsLabels) {
				st.existingAnti.add(t.topologyKey, v, 1)
			}
		}
		add := func(terms []affinityTerm, weight func(affinityTerm) int64) {
			for _, t := range terms {
				if v, ok := nodeLabel(n, t.topologyKey); ok && t.matches(p, nsLabels) {
					st.score.add(t.topologyKey, v, weight(t))
				}
			}
		}
		add(e.terms.requiredAffinity, func(affinityTerm) int64 { return hardAffinitySymmetricWeight })
		add(e.terms.preferredAffinity, func(t affinityTerm) int64 { return t.weight })
		add(e.terms.preferredAnti, func(t affinityTerm) int64 { return -t.weight })
	})
	if p.terms == nil {
		return nil
	}
	// Required affinity: an existing pod counts when it matches every term.
	if req := p.terms.requiredAffinity; len(req) > 0 && !anyNone(req) {
		st.selfMatch = matchesAll(req, p, nsLabels)
		c.EachPodMaybeMatching(req[0].selector, func(e *PodInfo, n *NodeInfo) {
			if e.Key == p.Key || n.Node == nil || !matchesAll(req, e, nsLabels) {
				return
			}
			for _, t := range req {
				if v, ok := nodeLabel(n, t.topologyKey); ok {
					st.affinity.add(t.topologyKey, v, 1)
				}
			}
		})
	}
	for _, t := range p.terms.requiredAnti {
		eachMatching(c, p, t, func(v string) { st.anti.add(t.topologyKey, v, 1) })
	}
	for _, t := range p.terms.preferredAffinity {
		eachMatching(c, p, t, func(v string) { st.score.add(t.topologyKey, v, t.weight) })
	}
	for _, t := range p.terms.preferredAnti {
		eachMatching(c, p, t, func(v string) { st.score.add(t.topologyKey, v, -t.weight) })
	}
	return nil
}

// eachMatching calls fn with the topology value of the node of every
// existing pod that term t of pod p matches.
func eachMatching(c Cluster, p *PodInfo, t affinityTerm, fn func(value string)) {
	if t.none {
		return
	}
	c.EachPodMaybeMatching(t.selector, func(e *PodInfo, n *NodeInfo) {
		if e.Key == p.Key || n.Node == nil || !t.matches(e, c.NamespaceLabels) {
			return
		}
		if v, ok := nodeLabel(n, t.topologyKey); ok {
			fn(v)
		}
	})
}

// anyNone: some term has no selector, so no pod matches them all.
func anyNone(terms []affinityTerm) bool {
	for i := range terms {
		if terms[i].none {
			return true
		}
	}
	return false
}

func matchesAll(terms []affinityTerm, p *PodInfo, nsLabels NamespaceLabels) bool {
	for i := range terms {
		if !terms[i].matches(p, nsLabels) {
			return false
		}
	}
	return true
}

func (interPodAffinity) Filter(p *PodInfo, n *NodeInfo) *Status {
	st := p.interPod
	if st == nil {
		return nil
	}
	if p.terms != nil {
		if !satisfiesAffinity(p, st, n) {
			return Reject(ReasonPodAffinity, "")
		}
		for _, t := range p.terms.requiredAnti {
			if v, ok := nodeLabel(n, t.topologyKey); ok && st.anti.get(t.topologyKey, v) > 0 {
				return Reject(ReasonPodAntiAffinity, "")
			}
		}
	}
	for _, k := range st.existingAnti.keys {
		if v, ok := nodeLabel(n, k); ok && st.existingAnti.get(k, v) > 0 {
			return Reject(ReasonExistingAntiAffinity, "")
		}
	}
	return nil
}

// satisfiesAffinity: the node has every term's topology key, and its
// domains hold pods matching the terms. The first pod of a set with
// affinity to itself passes anywhere with the keys, when no pod matches yet.
func satisfiesAffinity(p *PodInfo, st *interPodState, n *NodeInfo) bool {
	req := p.terms.requiredAffinity
	found := true
	for _, t := range req {
		v, ok := nodeLabel(n, t.topologyKey)
		if !ok {
			return false
		}
		if st.affinity.get(t.topologyKey, v) <= 0 {
			found = false
		}
	}
	if found {
		return true
	}
	return len(st.affinity.n) == 0 && st.selfMatch
}

// Score is the sum of the weights of the domains the node is in.
func (interPodAffinity) Score(p *PodInfo, n *NodeInfo) int64 {
	st := p.interPod
	if st == nil {
		return 0
	}
	var s int64
	for _, k := range st.score.keys {
		if v, ok := nodeLabel(n, k); ok {
			s += st.score.get(k, v)
		}
	}
	return s
}

// Normalize maps the lowest raw score to 0 and the highest to MaxScore.
func (interPodAffinity) Normalize(_ *PodInfo, _ []*NodeInfo, scores []int64) {
	minMaxNormalize(scores)
}

func minMaxNormalize(scores []int64) {
	if len(scores) == 0 {
		return
	}
	lo, hi := scores[0], scores[0]
	for _, s := range scores {
		lo, hi = min(lo, s), max(hi, s)
	}
	for i, s := range scores {
		if hi == lo {
			scores[i] = 0
			continue
		}
		scores[i] = MaxScore * (s - lo) / (hi - lo)
	}
}
