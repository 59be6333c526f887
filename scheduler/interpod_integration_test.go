package scheduler_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func nodeLabels(kv ...string) nodeOpt {
	return func(n *skiffv1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func podLabels(kv ...string) podOpt {
	return func(p *skiffv1.Pod) {
		if p.Metadata.Labels == nil {
			p.Metadata.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withAffinity(a *skiffv1.Affinity) podOpt {
	return func(p *skiffv1.Pod) { p.Spec.Affinity = a }
}

func selectorTerm(key string, kv ...string) *skiffv1.PodAffinityTerm {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &skiffv1.PodAffinityTerm{TopologyKey: key, LabelSelector: &skiffv1.LabelSelector{MatchLabels: m}}
}

// nodeOf waits until the pod is bound and returns its node.
func (e *env) nodeOf(name string) string {
	e.t.Helper()
	var node string
	e.waitFor(name+" bound", func() (bool, string) {
		node = e.getPod(name).GetSpec().GetNodeName()
		return node != "", "not bound"
	})
	return node
}

// Three replicas with required anti-affinity on the hostname land one per
// node; a fourth stays pending with kube-scheduler's reason, and takes the
// node a deleted replica frees.
func TestIntegrationPodAntiAffinity(t *testing.T) {
	e := start(t)
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("n%d", i)
		e.node(name, "8", "16Gi", "110", nodeLabels(skiffv1.LabelHostname, name))
	}
	e.run()
	anti := withAffinity(&skiffv1.Affinity{PodAntiAffinity: &skiffv1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []*skiffv1.PodAffinityTerm{selectorTerm(skiffv1.LabelHostname, "app", "web")},
	}})
	for i := 1; i <= 3; i++ {
		e.pod(fmt.Sprintf("web-%d", i), "100m", podLabels("app", "web"), anti)
	}
	var used []string
	for i := 1; i <= 3; i++ {
		used = append(used, e.nodeOf(fmt.Sprintf("web-%d", i)))
	}
	slices.Sort(used)
	if !slices.Equal(used, []string{"n1", "n2", "n3"}) {
		t.Fatalf("replicas on %v, want one per node", used)
	}
	e.pod("web-4", "100m", podLabels("app", "web"), anti)
	e.waitUnschedulable("web-4", "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")

	// A pod the replicas' anti-affinity matches is kept away by it too.
	e.pod("intruder", "100m", podLabels("app", "web"))
	e.waitUnschedulable("intruder", "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules.")
	if _, _, err := e.c.Pods().Delete(e.ctx, "default", "intruder", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}

	freed := e.getPod("web-2").GetSpec().GetNodeName()
	if _, _, err := e.c.Pods().Delete(e.ctx, "default", "web-2", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	e.waitBound("web-4", freed)
}

// maxSkew 1 over three zones spreads five pods 2/2/1, whatever the
// resources say (zone c's node is the biggest).
func TestIntegrationTopologySpread(t *testing.T) {
	e := start(t)
	e.node("a1", "4", "8Gi", "110", nodeLabels("zone", "a"))
	e.node("b1", "4", "8Gi", "110", nodeLabels("zone", "b"))
	e.node("c1", "64", "256Gi", "110", nodeLabels("zone", "c"))
	e.run()
	spread := func(p *skiffv1.Pod) {
		p.Spec.TopologySpreadConstraints = []*skiffv1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "DoNotSchedule",
			LabelSelector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		}}
	}
	for i := 1; i <= 5; i++ {
		e.pod(fmt.Sprintf("web-%d", i), "100m", podLabels("app", "web"), spread)
	}
	perZone := map[string]int{}
	for i := 1; i <= 5; i++ {
		perZone[e.nodeOf(fmt.Sprintf("web-%d", i))[:1]]++
	}
	counts := []int{perZone["a"], perZone["b"], perZone["c"]}
	sorted := slices.Clone(counts)
	slices.Sort(sorted)
	if !slices.Equal(sorted, []int{1, 2, 2}) {
		t.Fatalf("pods per zone a/b/c: %v, want 2/2/1 in some order", counts)
	}

	// A node without the zone label cannot take such a pod.
	e.node("bare", "64", "256Gi", "110", nodeLabels(skiffv1.LabelHostname, "bare"))
	e.pod("web-6", "100m", podLabels("app", "web"), spread, func(p *skiffv1.Pod) {
		p.Spec.NodeSelector = map[string]string{skiffv1.LabelHostname: "bare"}
	})
	e.waitUnschedulable("web-6", "0/4 nodes are available: 3 node(s) didn't match Pod's node selector, 1 node(s) didn't match pod topology spread constraints (missing required label).")
}

// A pod with required affinity to a cache waits until one runs, then joins
// its zone.
func TestIntegrationPodAffinityWaitsForItsPeer(t *testing.T) {
	e := start(t)
	e.node("a1", "4", "8Gi", "110", nodeLabels("zone", "a"))
	e.node("b1", "4", "8Gi", "110", nodeLabels("zone", "b"))
	e.run()
	e.pod("web", "100m", podLabels("app", "web"), withAffinity(&skiffv1.Affinity{PodAffinity: &skiffv1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []*skiffv1.PodAffinityTerm{selectorTerm("zone", "app", "cache")},
	}}))
	e.waitUnschedulable("web", "0/2 nodes are available: 2 node(s) didn't match pod affinity rules.")
	e.pod("cache", "100m", podLabels("app", "cache"), func(p *skiffv1.Pod) {
		p.Spec.NodeSelector = map[string]string{"zone": "b"}
	})
	e.waitBound("cache", "b1")
	e.waitBound("web", "b1")
}
