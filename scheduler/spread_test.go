package scheduler

import (
	"reflect"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func spreadBy(key string, skew int32, when string, matchLabels map[string]string) *skiffv1.TopologySpreadConstraint {
	return &skiffv1.TopologySpreadConstraint{
		MaxSkew: skew, TopologyKey: key, WhenUnsatisfiable: when,
		LabelSelector: &skiffv1.LabelSelector{MatchLabels: matchLabels},
	}
}

func webPods(nodes ...string) []*skiffv1.Pod {
	var out []*skiffv1.Pod
	for i, n := range nodes {
		out = append(out, podN("web", i, "", "", labelled("app", "web"), onNode(n)))
	}
	return out
}

func TestTopologySpreadFilter(t *testing.T) {
	web := map[string]string{"app": "web"}
	none := Reason("")
	nodes := threeNodes("a", "b", "c")
	withMin := func(c *skiffv1.TopologySpreadConstraint, n int32) *skiffv1.TopologySpreadConstraint {
		c.MinDomains = &n
		return c
	}
	cases := []struct {
		name  string
		world world
		pod   *skiffv1.Pod
		want  map[string]Reason
	}{
		{
			name:  "empty cluster: anywhere",
			world: world{nodes: nodes},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name:  "2/2/1: only the emptiest zone",
			world: world{nodes: nodes, pods: webPods("n1", "n1", "n2", "n2", "n3")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want:  map[string]Reason{"n1": ReasonTopologySpread, "n2": ReasonTopologySpread, "n3": none},
		},
		{
			name:  "maxSkew 2 allows one more",
			world: world{nodes: nodes, pods: webPods("n1", "n1", "n1", "n2", "n2", "n3")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 2, "DoNotSchedule", web))),
			want:  map[string]Reason{"n1": ReasonTopologySpread, "n2": none, "n3": none},
		},
		{
			name:  "a pod its own selector does not match adds nothing",
			world: world{nodes: nodes, pods: webPods("n1", "n2", "n2")},
			pod:   testPod("p", "", "", labelled("app", "other"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want:  map[string]Reason{"n1": none, "n2": ReasonTopologySpread, "n3": none},
		},
		{
			name:  "other namespaces do not count",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{testPod("x", "", "", labelled("app", "web"), inNamespace("other"), onNode("n1"))}},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name:  "node without the key is refused",
			world: world{nodes: append(threeNodes("a"), testNode("bare", "4", "8Gi"))},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want:  map[string]Reason{"n1": none, "bare": ReasonTopologyLabelMissing},
		},
		{
			name:  "ScheduleAnyway does not filter",
			world: world{nodes: nodes, pods: webPods("n1", "n1", "n1")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "ScheduleAnyway", web))),
			want:  map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name:  "minDomains above the domains: the minimum counts as 0",
			world: world{nodes: threeNodes("a", "b"), pods: webPods("n1", "n2")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(withMin(spreadBy("zone", 1, "DoNotSchedule", web), 3))),
			want:  map[string]Reason{"n1": ReasonTopologySpread, "n2": ReasonTopologySpread},
		},
		{
			name:  "minDomains met: the usual minimum",
			world: world{nodes: threeNodes("a", "b"), pods: webPods("n1", "n2")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(withMin(spreadBy("zone", 1, "DoNotSchedule", web), 2))),
			want:  map[string]Reason{"n1": none, "n2": none},
		},
		{
			// n3 is the node selector's to refuse; its empty zone does not
			// lower the minimum.
			name: "nodeAffinityPolicy Honor: a zone the pod cannot use is no domain",
			world: world{nodes: []*skiffv1.Node{
				testNode("n1", "4", "8Gi", zoned("a"), withLabel("disk", "ssd")),
				testNode("n2", "4", "8Gi", zoned("b"), withLabel("disk", "ssd")),
				testNode("n3", "4", "8Gi", zoned("c")),
			}, pods: webPods("n1", "n2")},
			pod:  testPod("p", "", "", labelled("app", "web"), selecting("disk", "ssd"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want: map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name: "nodeAffinityPolicy Ignore: the empty zone counts",
			world: world{nodes: []*skiffv1.Node{
				testNode("n1", "4", "8Gi", zoned("a"), withLabel("disk", "ssd")),
				testNode("n2", "4", "8Gi", zoned("b"), withLabel("disk", "ssd")),
				testNode("n3", "4", "8Gi", zoned("c")),
			}, pods: webPods("n1", "n2")},
			pod: testPod("p", "", "", labelled("app", "web"), selecting("disk", "ssd"), spreading(func() *skiffv1.TopologySpreadConstraint {
				c := spreadBy("zone", 1, "DoNotSchedule", web)
				c.NodeAffinityPolicy = "Ignore"
				return c
			}())),
			want: map[string]Reason{"n1": ReasonTopologySpread, "n2": ReasonTopologySpread, "n3": none},
		},
		{
			name: "nodeTaintsPolicy Honor: an untolerated tainted zone is no domain",
			world: world{nodes: []*skiffv1.Node{
				testNode("n1", "4", "8Gi", zoned("a")),
				testNode("n2", "4", "8Gi", zoned("b")),
				testNode("n3", "4", "8Gi", zoned("c"), withTaint("gpu", "", "NoSchedule")),
			}, pods: webPods("n1", "n2")},
			pod: testPod("p", "", "", labelled("app", "web"), spreading(func() *skiffv1.TopologySpreadConstraint {
				c := spreadBy("zone", 1, "DoNotSchedule", web)
				c.NodeTaintsPolicy = "Honor"
				return c
			}())),
			want: map[string]Reason{"n1": none, "n2": none, "n3": none},
		},
		{
			name: "nodeTaintsPolicy Ignore (default): the tainted zone counts as empty",
			world: world{nodes: []*skiffv1.Node{
				testNode("n1", "4", "8Gi", zoned("a")),
				testNode("n2", "4", "8Gi", zoned("b")),
				testNode("n3", "4", "8Gi", zoned("c"), withTaint("gpu", "", "NoSchedule")),
			}, pods: webPods("n1", "n2")},
			pod:  testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want: map[string]Reason{"n1": ReasonTopologySpread, "n2": ReasonTopologySpread, "n3": none},
		},
		{
			name: "matchLabelKeys narrow to the pod's own revision",
			world: world{nodes: nodes, pods: []*skiffv1.Pod{
				testPod("old1", "", "", labelled("app", "web", "rev", "1"), onNode("n1")),
				testPod("old2", "", "", labelled("app", "web", "rev", "1"), onNode("n1")),
				testPod("new1", "", "", labelled("app", "web", "rev", "2"), onNode("n2")),
			}},
			pod: testPod("p", "", "", labelled("app", "web", "rev", "2"), spreading(func() *skiffv1.TopologySpreadConstraint {
				c := spreadBy("zone", 1, "DoNotSchedule", web)
				c.MatchLabelKeys = []string{"rev"}
				return c
			}())),
			want: map[string]Reason{"n1": none, "n2": ReasonTopologySpread, "n3": none},
		},
		{
			name:  "hostname spread",
			world: world{nodes: nodes, pods: webPods("n1", "n2")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy(host, 1, "DoNotSchedule", web))),
			want:  map[string]Reason{"n1": ReasonTopologySpread, "n2": ReasonTopologySpread, "n3": none},
		},
		{
			name: "terminating pods do not count",
			world: world{nodes: nodes, pods: append(webPods("n1", "n2"), testPod("gone", "", "", labelled("app", "web"), onNode("n3"),
				func(p *skiffv1.Pod) { p.Metadata.DeletionTimestamp = p.Metadata.CreationTimestamp }))},
			pod:  testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want: map[string]Reason{"n1": ReasonTopologySpread, "n2": ReasonTopologySpread, "n3": none},
		},
	}
	for _, tc := range cases {
		for name, w := range tc.world.clusters() {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				got := filterAll(t, topologySpread{}, tc.pod, w.nodes, w.cl)
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestTopologySpreadScore(t *testing.T) {
	web := map[string]string{"app": "web"}
	cases := []struct {
		name  string
		world world
		pod   *skiffv1.Pod
		want  map[string]int64
	}{
		{
			name:  "fewer matching pods score higher",
			world: world{nodes: threeNodes("a", "b", "c"), pods: webPods("n1", "n1", "n2")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "ScheduleAnyway", web))),
			want:  map[string]int64{"n1": 0, "n2": 50, "n3": 100},
		},
		{
			name:  "balanced: all equal",
			world: world{nodes: threeNodes("a", "b", "c"), pods: webPods("n1", "n2", "n3")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "ScheduleAnyway", web))),
			want:  map[string]int64{"n1": 100, "n2": 100, "n3": 100},
		},
		{
			name:  "a node without the key scores 0",
			world: world{nodes: append(threeNodes("a", "b"), testNode("bare", "4", "8Gi")), pods: webPods("n1")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "ScheduleAnyway", web))),
			want:  map[string]int64{"n1": 0, "n2": 100, "bare": 0},
		},
		{
			name:  "DoNotSchedule only: no preference",
			world: world{nodes: threeNodes("a", "b", "c"), pods: webPods("n1")},
			pod:   testPod("p", "", "", labelled("app", "web"), spreading(spreadBy("zone", 1, "DoNotSchedule", web))),
			want:  map[string]int64{"n1": 0, "n2": 0, "n3": 0},
		},
	}
	for _, tc := range cases {
		for name, w := range tc.world.clusters() {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				got := scoreAll(t, topologySpread{}, tc.pod, w.nodes, w.cl)
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}
