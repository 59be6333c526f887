package validation

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPodAffinityAndSpreadValidation(t *testing.T) {
	term := func() *skiffv1.PodAffinityTerm {
		return &skiffv1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
	}
	anti := func(t *skiffv1.PodAffinityTerm) func(p *skiffv1.Pod) {
		return func(p *skiffv1.Pod) {
			p.Spec.Affinity = &skiffv1.Affinity{PodAntiAffinity: &skiffv1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []*skiffv1.PodAffinityTerm{t}}}
		}
	}
	preferred := func(w int32, t *skiffv1.PodAffinityTerm) func(p *skiffv1.Pod) {
		return func(p *skiffv1.Pod) {
			p.Spec.Affinity = &skiffv1.Affinity{PodAffinity: &skiffv1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []*skiffv1.WeightedPodAffinityTerm{{Weight: w, PodAffinityTerm: t}}}}
		}
	}
	spread := func(mutate func(c *skiffv1.TopologySpreadConstraint)) func(p *skiffv1.Pod) {
		return func(p *skiffv1.Pod) {
			c := &skiffv1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "DoNotSchedule",
				LabelSelector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
			mutate(c)
			p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
		}
	}
	two := int32(2)
	zero := int32(0)
	cases := []struct {
		name   string
		mutate func(p *skiffv1.Pod)
		want   string
	}{
		{"valid anti-affinity", anti(term()), ""},
		{"empty topologyKey", anti(&skiffv1.PodAffinityTerm{LabelSelector: &skiffv1.LabelSelector{}}),
			"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: required"},
		{"bad topologyKey", anti(&skiffv1.PodAffinityTerm{TopologyKey: "a b"}), "requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: \"a b\" is not a valid label key"},
		{"bad operator", anti(func() *skiffv1.PodAffinityTerm {
			t := term()
			t.LabelSelector.MatchExpressions = []*skiffv1.LabelSelectorRequirement{{Key: "app", Operator: "Equals", Values: []string{"x"}}}
			return t
		}()), `requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator: "Equals" is not one of In, NotIn, Exists, DoesNotExist`},
		{"bad namespace", anti(func() *skiffv1.PodAffinityTerm {
			t := term()
			t.Namespaces = []string{"Prod"}
			return t
		}()), "requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]"},
		{"bad namespaceSelector", anti(func() *skiffv1.PodAffinityTerm {
			t := term()
			t.NamespaceSelector = &skiffv1.LabelSelector{MatchExpressions: []*skiffv1.LabelSelectorRequirement{{Key: "env", Operator: "In"}}}
			return t
		}()), "namespaceSelector.matchExpressions[0].values: must not be empty for In"},
		{"weight 0", preferred(0, term()), "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: 0 must be between 1 and 100"},
		{"weight 101", preferred(101, term()), "weight: 101 must be between 1 and 100"},
		{"no podAffinityTerm", preferred(5, nil), "preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm: required"},
		{"node preference weight", func(p *skiffv1.Pod) {
			p.Spec.Affinity = &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []*skiffv1.PreferredSchedulingTerm{{
				Weight: 200, Preference: &skiffv1.NodeSelectorTerm{MatchExpressions: []*skiffv1.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"ssd"}}}},
			}}}}
		}, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: 200 must be between 1 and 100"},
		{"node preference operator", func(p *skiffv1.Pod) {
			p.Spec.Affinity = &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []*skiffv1.PreferredSchedulingTerm{{
				Weight: 1, Preference: &skiffv1.NodeSelectorTerm{MatchExpressions: []*skiffv1.NodeSelectorRequirement{{Key: "disk", Operator: "Has"}}},
			}}}}
		}, `spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].operator: "Has" is not one of`},
		{"valid spread", spread(func(*skiffv1.TopologySpreadConstraint) {}), ""},
		{"maxSkew 0", spread(func(c *skiffv1.TopologySpreadConstraint) { c.MaxSkew = 0 }), "spec.topologySpreadConstraints[0].maxSkew: 0 must be greater than zero"},
		{"spread topologyKey", spread(func(c *skiffv1.TopologySpreadConstraint) { c.TopologyKey = "" }), "spec.topologySpreadConstraints[0].topologyKey: required"},
		{"whenUnsatisfiable", spread(func(c *skiffv1.TopologySpreadConstraint) { c.WhenUnsatisfiable = "" }),
			`spec.topologySpreadConstraints[0].whenUnsatisfiable: "" is not one of DoNotSchedule, ScheduleAnyway`},
		{"minDomains 0", spread(func(c *skiffv1.TopologySpreadConstraint) { c.MinDomains = &zero }), "spec.topologySpreadConstraints[0].minDomains: 0 must be greater than zero"},
		{"minDomains with ScheduleAnyway", spread(func(c *skiffv1.TopologySpreadConstraint) { c.MinDomains = &two; c.WhenUnsatisfiable = "ScheduleAnyway" }),
			"minDomains: can only be set when whenUnsatisfiable is DoNotSchedule"},
		{"policy", spread(func(c *skiffv1.TopologySpreadConstraint) { c.NodeTaintsPolicy = "Always" }), `spec.topologySpreadConstraints[0].nodeTaintsPolicy: "Always" is not one of Honor, Ignore`},
		{"matchLabelKeys overlap", spread(func(c *skiffv1.TopologySpreadConstraint) { c.MatchLabelKeys = []string{"app"} }),
			`spec.topologySpreadConstraints[0].matchLabelKeys[0]: "app" is also in labelSelector.matchLabels`},
		{"duplicate constraint", func(p *skiffv1.Pod) {
			spread(func(*skiffv1.TopologySpreadConstraint) {})(p)
			spread(func(*skiffv1.TopologySpreadConstraint) {})(p)
		}, `spec.topologySpreadConstraints[1]: a constraint on topologyKey "zone" with whenUnsatisfiable "DoNotSchedule" is already given`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePod()
			c.mutate(p)
			wantValidation(t, p, c.want)
		})
	}
}
