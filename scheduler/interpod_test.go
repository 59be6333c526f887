package scheduler

import (
	"fmt"
	"reflect"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Builders for the inter-pod plugins' tests.

func labelled(kv ...string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		if p.Metadata.Labels == nil {
			p.Metadata.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func inNamespace(ns string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) { p.Metadata.Namespace = ns }
}

func term(key string, matchLabels map[string]string) *skiffv1.PodAffinityTerm {
	return &skiffv1.PodAffinityTerm{TopologyKey: key, LabelSelector: &skiffv1.LabelSelector{MatchLabels: matchLabels}}
}

func affinityOf(p *skiffv1.Pod) *skiffv1.Affinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &skiffv1.Affinity{}
	}
	return p.Spec.Affinity
}

func requiredAffinity(t *skiffv1.PodAffinityTerm) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		a := affinityOf(p)
		if a.PodAffinity == nil {
			a.PodAffinity = &skiffv1.PodAffinity{}
		}
		a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func requiredAnti(t *skiffv1.PodAffinityTerm) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		a := affinityOf(p)
		if a.PodAntiAffinity == nil {
			a.PodAntiAffinity = &skiffv1.PodAntiAffinity{}
		}
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func preferredAffinity(w int32, t *skiffv1.PodAffinityTerm) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		a := affinityOf(p)
		if a.PodAffinity == nil {
			a.PodAffinity = &skiffv1.PodAffinity{}
		}
		a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			&skiffv1.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: t})
	}
}

func preferredAnti(w int32, t *skiffv1.PodAffinityTerm) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		a := affinityOf(p)
		if a.PodAntiAffinity == nil {
			a.PodAntiAffinity = &skiffv1.PodAntiAffinity{}
		}
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			&skiffv1.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: t})
	}
}

func spreading(c *skiffv1.TopologySpreadConstraint) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) { p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c) }
}

func zoned(zone string) func(*skiffv1.Node) {
	return func(n *skiffv1.Node) {
		n.Metadata.Labels[skiffv1.LabelHostname] = n.Metadata.Name
		if zone != "" {
			n.Metadata.Labels["zone"] = zone
		}
	}
}

// world is a cluster for the inter-pod plugins: nodes, the pods bound to
// them, and namespaces' labels.
type world struct {
	nodes      []*skiffv1.Node
	pods       []*skiffv1.Pod
	namespaces map[string]map[string]string
}

// clusters builds the world twice: scanned (ScanPods) and through the
// cache with its label index, so every case checks both agree.
func (w world) clusters() map[string]struct {
	nodes []*NodeInfo
	cl    Cluster
} {
	out := map[string]struct {
		nodes []*NodeInfo
		cl    Cluster
	}{}
	var scanned []*NodeInfo
	for _, n := range w.nodes {
		ni := NewNodeInfo(n)
		for _, p := range w.pods {
			if p.Spec.NodeName == n.Metadata.Name {
				ni.AddPod(NewPodInfo(p))
			}
		}
		scanned = append(scanned, ni)
	}
	out["scan"] = struct {
		nodes []*NodeInfo
		cl    Cluster
	}{scanned, fakeCluster{ScanPods: ScanPods{Nodes: scanned, Namespaces: w.namespaces}}}
	c := newCache()
	for _, n := range w.nodes {
		c.setNode(n)
	}
	for _, p := range w.pods {
		c.setPod(p)
	}
	cc := cacheCluster{c: c, namespaces: func(name string) (*skiffv1.Namespace, bool) {
		l, ok := w.namespaces[name]
		return &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: name, Labels: l}}, ok
	}}
	out["cache"] = struct {
		nodes []*NodeInfo
		cl    Cluster
	}{c.list, cc}
	return out
}

type plugin interface {
	Filter
	PreFilter
}

// filterAll runs the plugin's pre-filter and filter for pod on every node:
// node name → reason ("" when it fits).
func filterAll(t *testing.T, f plugin, pod *skiffv1.Pod, nodes []*NodeInfo, cl Cluster) map[string]Reason {
	t.Helper()
	pi := NewPodInfo(pod)
	if st := f.PreFilter(pi, nodes, cl); st != nil {
		t.Fatalf("pre-filter failed the pod: %v", st)
	}
	out := map[string]Reason{}
	for _, n := range nodes {
		var r Reason
		if st := f.Filter(pi, n); st != nil {
			r = st.Failures[0].Reason
		}
		out[n.Name] = r
	}
	return out
}

// scoreAll pre-filters, scores and normalizes over every node.
func scoreAll(t *testing.T, s Scorer, pod *skiffv1.Pod, nodes []*NodeInfo, cl Cluster) map[string]int64 {
	t.Helper()
	pi := NewPodInfo(pod)
	if pf, ok := s.(PreFilter); ok {
		pf.PreFilter(pi, nodes, cl)
	}
	raw := make([]int64, len(nodes))
	for i, n := range nodes {
		raw[i] = s.Score(pi, n)
	}
	if norm, ok := s.(Normalizer); ok {
		norm.Normalize(pi, nodes, raw)
	}
	out := map[string]int64{}
	for i, n := range nodes {
		out[n.Name] = raw[i]
	}
	return out
}

func threeNodes(zones ...string) []*skiffv1.Node {
	var out []*skiffv1.Node
	for i, z := range zones {
		out = append(out, testNode(fmt.Sprintf("n%d", i+1), "4", "8Gi", zoned(z)))
	}
	return out
}

const host = skiffv1.LabelHostname

func TestInterPodAffinityFilter(t *testing.T) {
	web := map[string]string{"app": "web"}
	nodes := threeNodes("a", "a", "b")
	none := Reason("")
	cases := []struct {
		name  string
		world world
		pod   *skiffv1.Pod
		want  map[string]Reason
	}{
		{
			name:  "anti-affinity on hostname keeps off the node with a match",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), onNode("n1"))}},
			pod:   testPod("w2", "", "", labelled("app", "web"), requiredAnti(term(host, web))),
			want:  map[string]Reason{"n1": ReasonPodAntiAffinity, "n2": none, "n3": none},
		},
		{
			name:  "anti-affinity on zone keeps off the whole zone",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), onNode("n1"))}},
			pod:   testPod("w2", "", "", requiredAnti(term("zone", web))),
			want:  map[string]Reason{"n1": ReasonPodAntiAffinity, "n2": ReasonPodAntiAffinity, "n3": none},
		},
		{
			name:  "anti-affinity ignores other namespaces by default",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), inNamespace("other"), onNode("n1"))}},
			pod:   testPod("w2", "", "", requiredAnti(term(host, web))),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name:  "listed namespaces",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), inNamespace("other"), onNode("n1"))}},
			pod: testPod("w2", "", "", requiredAnti(func() *skiffv1.PodAffinityTerm {
				t := term(host, web)
				t.Namespaces = []string{"other"}
				return t
			}())),
			want: map[string]Reason{"n1": ReasonPodAntiAffinity, "n2": none, "n3": none},
		},
		{
			name: "namespace selector",
			world: world{
				nodes: nodes,
				pods: []*skiffv1.Pod{
					testPod("w1", "", "", labelled("app", "web"), inNamespace("prod"), onNode("n1")),
					testPod("w2", "", "", labelled("app", "web"), inNamespace("dev"), onNode("n3")),
				},
				namespaces: map[string]map[string]string{"prod": {"env": "prod"}, "dev": {"env": "dev"}},
			},
			pod: testPod("w3", "", "", requiredAnti(func() *skiffv1.PodAffinityTerm {
				t := term(host, web)
				t.NamespaceSelector = &skiffv1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
				return t
			}())),
			want: map[string]Reason{"n1": ReasonPodAntiAffinity, "n2": none, "n3": none},
		},
		{
			name:  "empty namespace selector selects all namespaces",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), inNamespace("x"), onNode("n2"))}},
			pod: testPod("w3", "", "", requiredAnti(func() *skiffv1.PodAffinityTerm {
				t := term(host, web)
				t.NamespaceSelector = &skiffv1.LabelSelector{}
				return t
			}())),
			want: map[string]Reason{"n1": none, "n2": ReasonPodAntiAffinity, "n3": none},
		},
		{
			name:  "match expressions",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web", "tier", "fe"), onNode("n3"))}},
			pod: testPod("w2", "", "", requiredAnti(&skiffv1.PodAffinityTerm{TopologyKey: host, LabelSelector: &skiffv1.LabelSelector{
				MatchExpressions: []*skiffv1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"fe", "be"}}},
			}})),
			want: map[string]Reason{"n1": none, "n2": none, "n3": ReasonPodAntiAffinity},
		},
		{
			name:  "no label selector matches nothing",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), onNode("n1"))}},
			pod:   testPod("w2", "", "", requiredAnti(&skiffv1.PodAffinityTerm{TopologyKey: host})),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name:  "existing pod's anti-affinity keeps a matching pod away (symmetry)",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("db", "", "", requiredAnti(term("zone", web)), onNode("n3"))}},
			pod:   testPod("w1", "", "", labelled("app", "web")),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": ReasonExistingAntiAffinity},
		},
		{
			name: "existing pod's anti-affinity by Exists (not indexed by value)",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("db", "", "", requiredAnti(&skiffv1.PodAffinityTerm{TopologyKey: host, LabelSelector: &skiffv1.LabelSelector{
				MatchExpressions: []*skiffv1.LabelSelectorRequirement{{Key: "app", Operator: "Exists"}},
			}}), onNode("n2"))}},
			pod:  testPod("w1", "", "", labelled("app", "anything")),
			want: map[string]Reason{"n1": none, "n2": ReasonExistingAntiAffinity, "n3": none},
		},
		{
			name:  "existing pod's anti-affinity ignores a pod it does not match",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("db", "", "", requiredAnti(term("zone", web)), onNode("n3"))}},
			pod:   testPod("x", "", "", labelled("app", "api")),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name:  "affinity needs a matching pod in the domain",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("cache", "", "", labelled("app", "cache"), onNode("n1"))}},
			pod:   testPod("w1", "", "", labelled("app", "web"), requiredAffinity(term("zone", map[string]string{"app": "cache"}))),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": ReasonPodAffinity},
		},
		{
			name:  "affinity with no matching pod anywhere, not matching itself",
			world: world{nodes: nodes},
			pod:   testPod("w1", "", "", labelled("app", "web"), requiredAffinity(term("zone", map[string]string{"app": "cache"}))),
			want:  map[string]Reason{"n1": ReasonPodAffinity, "n2": ReasonPodAffinity, "n3": ReasonPodAffinity},
		},
		{
			name:  "first pod of a set with affinity to itself goes anywhere with the key",
			world: world{nodes: append(threeNodes("a", "b"), testNode("bare", "4", "8Gi"))},
			pod:   testPod("w1", "", "", labelled("app", "web"), requiredAffinity(term("zone", web))),
			want:  map[string]Reason{"n1": none, "n2": none, "bare": ReasonPodAffinity},
		},
		{
			name:  "later pods of that set follow the first",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), requiredAffinity(term("zone", web)), onNode("n3"))}},
			pod:   testPod("w2", "", "", labelled("app", "web"), requiredAffinity(term("zone", web))),
			want:  map[string]Reason{"n1": ReasonPodAffinity, "n2": ReasonPodAffinity, "n3": none},
		},
		{
			name: "affinity counts pods matching every term",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{
				testPod("a", "", "", labelled("app", "cache"), onNode("n1")),
				testPod("b", "", "", labelled("tier", "db"), onNode("n3")),
			}},
			pod: testPod("w", "", "",
				requiredAffinity(term("zone", map[string]string{"app": "cache"})),
				requiredAffinity(term("zone", map[string]string{"tier": "db"}))),
			want: map[string]Reason{"n1": ReasonPodAffinity, "n2": ReasonPodAffinity, "n3": ReasonPodAffinity},
		},
		{
			name:  "anti-affinity passes a node without the key",
			world: world{nodes: append(threeNodes("a"), testNode("bare", "4", "8Gi")), pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), onNode("n1"))}},
			pod:   testPod("w2", "", "", requiredAnti(term("zone", web))),
			want:  map[string]Reason{"n1": ReasonPodAntiAffinity, "bare": none},
		},
	}
	for _, tc := range cases {
		for name, w := range tc.world.clusters() {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				got := filterAll(t, interPodAffinity{}, tc.pod, w.nodes, w.cl)
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestInterPodAffinityScore(t *testing.T) {
	web := map[string]string{"app": "web"}
	nodes := threeNodes("a", "a", "b")
	cases := []struct {
		name  string
		world world
		pod   *skiffv1.Pod
		want  map[string]int64
	}{
		{
			name:  "preferred affinity pulls to the zone",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), onNode("n3"))}},
			pod:   testPod("w2", "", "", preferredAffinity(10, term("zone", web))),
			want:  map[string]int64{"n1": 0, "n2": 0, "n3": 100},
		},
		{
			name:  "preferred anti-affinity pushes away from the host",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("w1", "", "", labelled("app", "web"), onNode("n1"))}},
			pod:   testPod("w2", "", "", labelled("app", "web"), preferredAnti(50, term(host, web))),
			want:  map[string]int64{"n1": 0, "n2": 100, "n3": 100},
		},
		{
			name: "weights add up",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{
				testPod("c", "", "", labelled("app", "cache"), onNode("n1")),
				testPod("w1", "", "", labelled("app", "web"), onNode("n2")),
			}},
			pod: testPod("w2", "", "",
				preferredAffinity(80, term("zone", map[string]string{"app": "cache"})),
				preferredAnti(40, term(host, web))),
			// n1: +80, n2: +80-40, n3: 0.
			want: map[string]int64{"n1": 100, "n2": 50, "n3": 0},
		},
		{
			name:  "an existing pod's preferred affinity pulls a pod it matches (symmetry)",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("c", "", "", preferredAffinity(5, term(host, web)), onNode("n2"))}},
			pod:   testPod("w", "", "", labelled("app", "web")),
			want:  map[string]int64{"n1": 0, "n2": 100, "n3": 0},
		},
		{
			name: "an existing pod met through two of the pod's labels counts once",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{
				testPod("c1", "", "", preferredAffinity(5, term(host, web)), preferredAffinity(5, term(host, map[string]string{"tier": "fe"})), onNode("n1")),
				testPod("c2", "", "", preferredAffinity(8, term(host, web)), onNode("n2")),
			}},
			pod:  testPod("w", "", "", labelled("app", "web", "tier", "fe")),
			want: map[string]int64{"n1": 100, "n2": 80, "n3": 0},
		},
		{
			name:  "no terms anywhere: all equal",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("c", "", "", labelled("app", "web"), onNode("n2"))}},
			pod:   testPod("w", "", "", labelled("app", "web")),
			want:  map[string]int64{"n1": 0, "n2": 0, "n3": 0},
		},
	}
	for _, tc := range cases {
		for name, w := range tc.world.clusters() {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				got := scoreAll(t, interPodAffinity{}, tc.pod, w.nodes, w.cl)
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestNodeAffinityScorer(t *testing.T) {
	pref := func(w int32, key, value string) *skiffv1.PreferredSchedulingTerm {
		return &skiffv1.PreferredSchedulingTerm{Weight: w, Preference: &skiffv1.NodeSelectorTerm{
			MatchExpressions: []*skiffv1.NodeSelectorRequirement{{Key: key, Operator: "In", Values: []string{value}}},
		}}
	}
	preferring := func(terms ...*skiffv1.PreferredSchedulingTerm) func(*skiffv1.Pod) {
		return func(p *skiffv1.Pod) {
			affinityOf(p).NodeAffinity = &skiffv1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: terms}
		}
	}
	nodes := []*NodeInfo{
		nodeWith(testNode("ssd-a", "4", "8Gi", withLabel("disk", "ssd"), withLabel("zone", "a"))),
		nodeWith(testNode("hdd-a", "4", "8Gi", withLabel("disk", "hdd"), withLabel("zone", "a"))),
		nodeWith(testNode("ssd-b", "4", "8Gi", withLabel("disk", "ssd"), withLabel("zone", "b"))),
	}
	cases := []struct {
		name string
		pod  *skiffv1.Pod
		want map[string]int64
	}{
		{"one term", testPod("p", "", "", preferring(pref(5, "disk", "ssd"))), map[string]int64{"ssd-a": 100, "hdd-a": 0, "ssd-b": 100}},
		{"weights sum", testPod("p", "", "", preferring(pref(60, "disk", "ssd"), pref(40, "zone", "a"))),
			map[string]int64{"ssd-a": 100, "hdd-a": 40, "ssd-b": 60}},
		{"no match anywhere", testPod("p", "", "", preferring(pref(5, "disk", "nvme"))), map[string]int64{"ssd-a": 0, "hdd-a": 0, "ssd-b": 0}},
		{"no preference", testPod("p", "", ""), map[string]int64{"ssd-a": 0, "hdd-a": 0, "ssd-b": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := scoreAll(t, nodeAffinityScorer{}, tc.pod, nodes, fakeCluster{})
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A decision leaves no per-attempt counts on the PodInfo, which the cache
// keeps once the pod is assumed.
func TestScheduleDropsCycleState(t *testing.T) {
	w := world{nodes: threeNodes("a", "b", "c"), pods: webPods("n1")}
	cl := w.clusters()["cache"]
	pi := NewPodInfo(testPod("p", "", "", labelled("app", "web"),
		requiredAnti(term(host, map[string]string{"app": "web"})),
		spreading(spreadBy("zone", 1, "DoNotSchedule", map[string]string{"app": "web"}))))
	res, err := NewAlgorithm(AlgorithmOptions{}).Schedule(pi, cl.nodes, cl.cl)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node == "n1" {
		t.Fatalf("placed on n1, next to the pod its anti-affinity matches")
	}
	if pi.interPod != nil || pi.spreadState != nil {
		t.Fatalf("per-attempt state kept: %+v %+v", pi.interPod, pi.spreadState)
	}
}
