package validation

import (
	"strings"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// validatePodAffinity checks inter-pod affinity and anti-affinity terms as
// Kubernetes does: a topology key that is a label key, well-formed
// selectors, weights of 1 to 100.
func validatePodAffinity(e *errs, path string, a *skiffv1.Affinity) {
	for _, side := range []struct {
		path      string
		required  []*skiffv1.PodAffinityTerm
		preferred []*skiffv1.WeightedPodAffinityTerm
	}{
		{path + ".podAffinity", a.GetPodAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution(), a.GetPodAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution()},
		{path + ".podAntiAffinity", a.GetPodAntiAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution(), a.GetPodAntiAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution()},
	} {
		for i, t := range side.required {
			validatePodAffinityTerm(e, idx(side.path+".requiredDuringSchedulingIgnoredDuringExecution", i), t)
		}
		for i, w := range side.preferred {
			p := idx(side.path+".preferredDuringSchedulingIgnoredDuringExecution", i)
			checkWeight(e, p+".weight", w.GetWeight())
			if w.GetPodAffinityTerm() == nil {
				e.add(p+".podAffinityTerm", "required")
				continue
			}
			validatePodAffinityTerm(e, p+".podAffinityTerm", w.GetPodAffinityTerm())
		}
	}
}

func validatePodAffinityTerm(e *errs, path string, t *skiffv1.PodAffinityTerm) {
	checkTopologyKey(e, path+".topologyKey", t.GetTopologyKey())
	validateLabelSelector(e, path+".labelSelector", t.GetLabelSelector())
	validateLabelSelector(e, path+".namespaceSelector", t.GetNamespaceSelector())
	for i, ns := range t.GetNamespaces() {
		checkLabel(e, idx(path+".namespaces", i), ns)
	}
}

// validateTopologySpread checks a pod's topologySpreadConstraints.
func validateTopologySpread(e *errs, path string, cs []*skiffv1.TopologySpreadConstraint) {
	seen := map[[2]string]bool{}
	for i, c := range cs {
		p := idx(path, i)
		if c.GetMaxSkew() < 1 {
			e.add(p+".maxSkew", "%d must be greater than zero", c.GetMaxSkew())
		}
		checkTopologyKey(e, p+".topologyKey", c.GetTopologyKey())
		checkOneOf(e, p+".whenUnsatisfiable", c.GetWhenUnsatisfiable(), "DoNotSchedule", "ScheduleAnyway")
		// Two constraints on one key with the same action would be one
		// constraint judged twice; Kubernetes refuses them.
		pair := [2]string{c.GetTopologyKey(), c.GetWhenUnsatisfiable()}
		if seen[pair] {
			e.add(p, "a constraint on topologyKey %q with whenUnsatisfiable %q is already given", pair[0], pair[1])
		}
		seen[pair] = true
		if c.MinDomains != nil {
			switch {
			case c.GetMinDomains() < 1:
				e.add(p+".minDomains", "%d must be greater than zero", c.GetMinDomains())
			case c.GetWhenUnsatisfiable() != "DoNotSchedule":
				e.add(p+".minDomains", "can only be set when whenUnsatisfiable is DoNotSchedule")
			}
		}
		if v := c.GetNodeAffinityPolicy(); v != "" {
			checkOneOf(e, p+".nodeAffinityPolicy", v, "Honor", "Ignore")
		}
		if v := c.GetNodeTaintsPolicy(); v != "" {
			checkOneOf(e, p+".nodeTaintsPolicy", v, "Honor", "Ignore")
		}
		validateLabelSelector(e, p+".labelSelector", c.GetLabelSelector())
		for j, k := range c.GetMatchLabelKeys() {
			kp := idx(p+".matchLabelKeys", j)
			if err := labels.ValidateKey(k); err != nil {
				e.add(kp, "%v", err)
			}
			if c.GetLabelSelector() == nil {
				e.add(kp, "requires labelSelector")
			}
			if _, ok := c.GetLabelSelector().GetMatchLabels()[k]; ok {
				e.add(kp, "%q is also in labelSelector.matchLabels", k)
			}
			for _, r := range c.GetLabelSelector().GetMatchExpressions() {
				if r.GetKey() == k {
					e.add(kp, "%q is also in labelSelector.matchExpressions", k)
				}
			}
		}
	}
}

func checkWeight(e *errs, path string, w int32) {
	if w < 1 || w > 100 {
		e.add(path, "%d must be between 1 and 100", w)
	}
}

func checkTopologyKey(e *errs, path, k string) {
	if k == "" {
		e.add(path, "required: a node label key, e.g. kubernetes.io/hostname")
		return
	}
	if err := labels.ValidateKey(k); err != nil {
		e.add(path, "%v", err)
	}
}

// validateLabelSelector checks a selector's label keys, values and
// operators; nil is fine.
func validateLabelSelector(e *errs, path string, s *skiffv1.LabelSelector) {
	if s == nil {
		return
	}
	checkLabels(e, path+".matchLabels", s.GetMatchLabels())
	if _, err := labels.FromLabelSelector(s); err != nil {
		// The error begins with the field inside the selector.
		msg := err.Error()
		if field, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(field, "matchExpressions[") {
			e.add(path+"."+field, "%s", rest)
		} else {
			e.add(path, "%s", msg)
		}
	}
	for i, r := range s.GetMatchExpressions() {
		for j, v := range r.GetValues() {
			if err := labels.ValidateValue(v); err != nil {
				e.add(idx(idx(path+".matchExpressions", i)+".values", j), "%v", err)
			}
		}
	}
}
