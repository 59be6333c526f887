package scheduler

import (
	"slices"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// affinityTerm is a PodAffinityTerm parsed once: which pods (by labels and
// namespace) it matches, and over which node label they are grouped.
type affinityTerm struct {
	selector labels.Selector
	// none: the term has no label selector, which matches no pod.
	none bool
	// namespaces listed, or the owner's own when neither these nor a
	// namespace selector are given.
	namespaces []string
	// nsSelector selects namespaces by their labels (nil: not given; an
	// empty, non-nil one selects all).
	nsSelector  labels.Selector
	hasNSSel    bool
	topologyKey string
	weight      int64 // of a preferred term; 1 for a required one
}

// podTerms are the inter-pod affinity terms of a pod.
type podTerms struct {
	requiredAffinity  []affinityTerm
	requiredAnti      []affinityTerm
	preferredAffinity []affinityTerm
	preferredAnti     []affinityTerm
}

func (t *podTerms) any() bool {
	return t != nil && len(t.requiredAffinity)+len(t.requiredAnti)+len(t.preferredAffinity)+len(t.preferredAnti) > 0
}

// indexKeys are the "key=value" pairs under which the cache indexes a
// pod's terms: for each term, the values of its first equality or In
// requirement (a pod matching the term carries one of them). unindexed is
// set when some term has no such requirement and may match any pod.
func (t *podTerms) indexKeys() (keys []string, unindexed bool) {
	if t == nil {
		return nil, false
	}
	for _, set := range [][]affinityTerm{t.requiredAffinity, t.requiredAnti, t.preferredAffinity, t.preferredAnti} {
		for _, term := range set {
			if term.none {
				continue // matches no pod
			}
			found := false
			for _, r := range term.selector {
				if r.Op != labels.Equals && r.Op != labels.In {
					continue
				}
				for _, v := range r.Values {
					if lk := r.Key + "=" + v; !slices.Contains(keys, lk) {
						keys = append(keys, lk)
					}
				}
				found = true
				break
			}
			if !found {
				unindexed = true
			}
		}
	}
	return keys, unindexed
}

// NamespaceLabels looks up a namespace's labels (false: no such namespace).
type NamespaceLabels func(ns string) (map[string]string, bool)

// matches reports whether pod p is one the term selects. nsLabels is only
// consulted for a term with a namespace selector.
func (t *affinityTerm) matches(p *PodInfo, nsLabels NamespaceLabels) bool {
	if t.none || !t.selector.Matches(p.Labels) {
		return false
	}
	return t.matchesNamespace(p.Namespace, nsLabels)
}

func (t *affinityTerm) matchesNamespace(ns string, nsLabels NamespaceLabels) bool {
	if slices.Contains(t.namespaces, ns) {
		return true
	}
	if !t.hasNSSel {
		return false
	}
	if len(t.nsSelector) == 0 {
		return true // {} selects every namespace
	}
	if nsLabels == nil {
		return false
	}
	l, ok := nsLabels(ns)
	return ok && t.nsSelector.Matches(l)
}

// parsePodTerms reads a pod's inter-pod affinity; nil when it has none.
// A term whose selector does not parse (validation refuses those) matches
// no pod.
func parsePodTerms(pod *skiffv1.Pod) *podTerms {
	a := pod.GetSpec().GetAffinity()
	pa, anti := a.GetPodAffinity(), a.GetPodAntiAffinity()
	if pa == nil && anti == nil {
		return nil
	}
	ns := pod.GetMetadata().GetNamespace()
	t := &podTerms{}
	for _, x := range pa.GetRequiredDuringSchedulingIgnoredDuringExecution() {
		t.requiredAffinity = append(t.requiredAffinity, parseTerm(x, ns, 1))
	}
	for _, x := range anti.GetRequiredDuringSchedulingIgnoredDuringExecution() {
		t.requiredAnti = append(t.requiredAnti, parseTerm(x, ns, 1))
	}
	for _, x := range pa.GetPreferredDuringSchedulingIgnoredDuringExecution() {
		t.preferredAffinity = append(t.preferredAffinity, parseTerm(x.GetPodAffinityTerm(), ns, int64(x.GetWeight())))
	}
	for _, x := range anti.GetPreferredDuringSchedulingIgnoredDuringExecution() {
		t.preferredAnti = append(t.preferredAnti, parseTerm(x.GetPodAffinityTerm(), ns, int64(x.GetWeight())))
	}
	if !t.any() {
		return nil
	}
	return t
}

func parseTerm(x *skiffv1.PodAffinityTerm, ns string, weight int64) affinityTerm {
	t := affinityTerm{topologyKey: x.GetTopologyKey(), weight: weight, namespaces: x.GetNamespaces()}
	if x.GetLabelSelector() == nil {
		t.none = true
	} else if sel, err := labels.FromLabelSelector(x.GetLabelSelector()); err != nil {
		t.none = true
	} else {
		t.selector = sel
	}
	if x.GetNamespaceSelector() != nil {
		t.hasNSSel = true
		sel, err := labels.FromLabelSelector(x.GetNamespaceSelector())
		if err != nil {
			t.hasNSSel = false // selects nothing
		} else {
			t.nsSelector = sel
		}
	}
	if len(t.namespaces) == 0 && x.GetNamespaceSelector() == nil {
		t.namespaces = []string{ns}
	}
	return t
}

// spreadConstraint is a TopologySpreadConstraint parsed once.
type spreadConstraint struct {
	maxSkew     int64
	topologyKey string
	hard        bool // DoNotSchedule
	selector    labels.Selector
	none        bool // no label selector: matches no pod
	minDomains  int64
	// honorAffinity: only nodes matching the pod's node selector and
	// required node affinity hold domains (nodeAffinityPolicy Honor, the
	// default). honorTaints: only nodes whose taints the pod tolerates
	// (nodeTaintsPolicy Honor; Ignore is the default).
	honorAffinity bool
	honorTaints   bool
}

func parseSpread(pod *skiffv1.Pod) []spreadConstraint {
	var out []spreadConstraint
	podLabels := pod.GetMetadata().GetLabels()
	for _, c := range pod.GetSpec().GetTopologySpreadConstraints() {
		sc := spreadConstraint{
			maxSkew:       int64(c.GetMaxSkew()),
			topologyKey:   c.GetTopologyKey(),
			hard:          c.GetWhenUnsatisfiable() != "ScheduleAnyway",
			minDomains:    1,
			honorAffinity: c.GetNodeAffinityPolicy() != "Ignore",
			honorTaints:   c.GetNodeTaintsPolicy() == "Honor",
		}
		if c.MinDomains != nil && c.GetMinDomains() > 0 {
			sc.minDomains = int64(c.GetMinDomains())
		}
		if c.GetLabelSelector() == nil {
			sc.none = true
		} else if sel, err := labels.FromLabelSelector(c.GetLabelSelector()); err != nil {
			sc.none = true
		} else {
			sc.selector = sel
			// matchLabelKeys narrow the selector to the incoming pod's
			// values of those keys (its revision, typically).
			for _, k := range c.GetMatchLabelKeys() {
				if v, ok := podLabels[k]; ok {
					sc.selector = append(sc.selector, labels.Requirement{Key: k, Op: labels.Equals, Values: []string{v}})
				}
			}
		}
		out = append(out, sc)
	}
	return out
}

// selects reports whether existing pod e counts for the constraint of
// incoming pod p: same namespace, selected, not being deleted.
func (c *spreadConstraint) selects(p, e *PodInfo) bool {
	return !c.none && e.Namespace == p.Namespace && !e.Terminating && c.selector.Matches(e.Labels)
}
