package scheduler

import (
	"reflect"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type filterCase struct {
	name string
	pod  *skiffv1.Pod
	node *NodeInfo
	want []Reason // nil: fits
}

func runFilterCases(t *testing.T, f Filter, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := f.Filter(NewPodInfo(tc.pod), tc.node)
			var got []Reason
			if st != nil {
				for _, fl := range st.Failures {
					got = append(got, fl.Reason)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s: got %v, want %v", f.Name(), got, tc.want)
			}
		})
	}
}

func TestNodeConditionFilter(t *testing.T) {
	runFilterCases(t, nodeConditionFilter{}, []filterCase{
		{"ready", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi")), nil},
		{"not ready", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi", notReady)), []Reason{ReasonNodeNotReady}},
		{"no conditions", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi", func(n *skiffv1.Node) { n.Status.Conditions = nil })), []Reason{ReasonNodeNotReady}},
		{"cordoned", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi", cordoned)), []Reason{ReasonNodeUnschedulable}},
		{"cordoned, tolerated", testPod("p", "", "", func(p *skiffv1.Pod) {
			p.Spec.Tolerations = []*skiffv1.Toleration{{Key: skiffv1.UnschedulableTaintKey, Operator: "Exists", Effect: "NoSchedule"}}
		}), nodeWith(testNode("n", "1", "1Gi", cordoned)), nil},
	})
}

func TestNodeSelectorFilter(t *testing.T) {
	runFilterCases(t, nodeSelectorFilter{}, []filterCase{
		{"no selector", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi")), nil},
		{"match", testPod("p", "", "", selecting("disk", "ssd")), nodeWith(testNode("n", "1", "1Gi", withLabel("disk", "ssd"), withLabel("x", "y"))), nil},
		{"wrong value", testPod("p", "", "", selecting("disk", "ssd")), nodeWith(testNode("n", "1", "1Gi", withLabel("disk", "hdd"))), []Reason{ReasonNodeSelector}},
		{"missing label", testPod("p", "", "", selecting("disk", "ssd")), nodeWith(testNode("n", "1", "1Gi")), []Reason{ReasonNodeSelector}},
		{"all labels needed", testPod("p", "", "", selecting("disk", "ssd"), selecting("zone", "a")), nodeWith(testNode("n", "1", "1Gi", withLabel("disk", "ssd"))), []Reason{ReasonNodeSelector}},
		{"affinity to this node", testPod("p", "", "", pinnedTo("n")), nodeWith(testNode("n", "1", "1Gi")), nil},
		{"affinity to another node", testPod("p", "", "", pinnedTo("m")), nodeWith(testNode("n", "1", "1Gi")), []Reason{ReasonNodeSelector}},
		{"affinity on labels", testPod("p", "", "", func(p *skiffv1.Pod) {
			p.Spec.Affinity = &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &skiffv1.NodeSelector{
				NodeSelectorTerms: []*skiffv1.NodeSelectorTerm{{MatchExpressions: []*skiffv1.NodeSelectorRequirement{{Key: "disk", Operator: "NotIn", Values: []string{"hdd"}}}}},
			}}}
		}), nodeWith(testNode("n", "1", "1Gi", withLabel("disk", "hdd"))), []Reason{ReasonNodeSelector}},
	})
}

func TestTaintFilter(t *testing.T) {
	db := withTaint("dedicated", "db", "NoSchedule")
	runFilterCases(t, taintFilter{}, []filterCase{
		{"untainted", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi")), nil},
		{"NoSchedule untolerated", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi", db)), []Reason{ReasonUntoleratedTaint}},
		{"NoExecute untolerated", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi", withTaint("k", "", "NoExecute"))), []Reason{ReasonUntoleratedTaint}},
		{"PreferNoSchedule ignored", testPod("p", "", ""), nodeWith(testNode("n", "1", "1Gi", withTaint("k", "v", "PreferNoSchedule"))), nil},
		{"Equal tolerates", testPod("p", "", "", tolerating("dedicated", "Equal", "db", "NoSchedule")), nodeWith(testNode("n", "1", "1Gi", db)), nil},
		{"default operator is Equal", testPod("p", "", "", tolerating("dedicated", "", "db", "")), nodeWith(testNode("n", "1", "1Gi", db)), nil},
		{"Equal wrong value", testPod("p", "", "", tolerating("dedicated", "Equal", "web", "NoSchedule")), nodeWith(testNode("n", "1", "1Gi", db)), []Reason{ReasonUntoleratedTaint}},
		{"Exists on key", testPod("p", "", "", tolerating("dedicated", "Exists", "", "")), nodeWith(testNode("n", "1", "1Gi", db)), nil},
		{"Exists on every key", testPod("p", "", "", tolerating("", "Exists", "", "")), nodeWith(testNode("n", "1", "1Gi", db, withTaint("other", "x", "NoExecute"))), nil},
		{"wrong effect", testPod("p", "", "", tolerating("dedicated", "Equal", "db", "NoExecute")), nodeWith(testNode("n", "1", "1Gi", db)), []Reason{ReasonUntoleratedTaint}},
		{"one of two tolerated", testPod("p", "", "", tolerating("dedicated", "Exists", "", "")), nodeWith(testNode("n", "1", "1Gi", db, withTaint("gpu", "", "NoSchedule"))), []Reason{ReasonUntoleratedTaint}},
	})
}

func TestTaintDetail(t *testing.T) {
	st := taintFilter{}.Filter(NewPodInfo(testPod("p", "", "")), nodeWith(testNode("n", "1", "1Gi", withTaint("dedicated", "db", "NoSchedule"))))
	if got := st.Failures[0].String(); got != "node(s) had untolerated taint {dedicated=db}" {
		t.Fatalf("got %q", got)
	}
	st = taintFilter{}.Filter(NewPodInfo(testPod("p", "", "")), nodeWith(testNode("n", "1", "1Gi", withTaint("gpu", "", "NoSchedule"))))
	if got := st.Failures[0].String(); got != "node(s) had untolerated taint {gpu}" {
		t.Fatalf("got %q", got)
	}
}

func TestHostPortFilter(t *testing.T) {
	busy := testNode("n", "1", "1Gi")
	runFilterCases(t, hostPortFilter{}, []filterCase{
		{"no ports", testPod("p", "", ""), nodeWith(busy, testPod("q", "", "", hostPort(80, ""))), nil},
		{"free", testPod("p", "", "", hostPort(81, "TCP")), nodeWith(busy, testPod("q", "", "", hostPort(80, ""))), nil},
		{"conflict, TCP default", testPod("p", "", "", hostPort(80, "TCP")), nodeWith(busy, testPod("q", "", "", hostPort(80, ""))), []Reason{ReasonHostPortConflict}},
		{"other protocol", testPod("p", "", "", hostPort(53, "UDP")), nodeWith(busy, testPod("q", "", "", hostPort(53, "TCP"))), nil},
	})
	// Removing the pod frees the port.
	ni := nodeWith(busy, testPod("q", "", "", hostPort(80, "")))
	ni.RemovePod("default/q")
	if st := (hostPortFilter{}).Filter(NewPodInfo(testPod("p", "", "", hostPort(80, ""))), ni); st != nil {
		t.Fatalf("port still in use after the pod left: %v", st)
	}
}

func TestResourceFilter(t *testing.T) {
	n := testNode("n", "2", "4Gi", maxPods("3"))
	runFilterCases(t, resourceFilter{}, []filterCase{
		{"empty node", testPod("p", "1", "1Gi"), nodeWith(n), nil},
		{"exactly full", testPod("p", "1", "2Gi"), nodeWith(n, testPod("a", "1", "2Gi")), nil},
		{"cpu short", testPod("p", "1100m", "1Gi"), nodeWith(n, testPod("a", "1", "1Gi")), []Reason{ReasonInsufficientCPU}},
		{"memory short", testPod("p", "100m", "3Gi"), nodeWith(n, testPod("a", "1", "2Gi")), []Reason{ReasonInsufficientMemory}},
		{"both short", testPod("p", "2", "4Gi"), nodeWith(n, testPod("a", "1", "1Gi")), []Reason{ReasonInsufficientCPU, ReasonInsufficientMemory}},
		{"pod count", testPod("p", "", ""), nodeWith(n, testPod("a", "", ""), testPod("b", "", ""), testPod("c", "", "")), []Reason{ReasonTooManyPods}},
		{"no requests fit a full node", testPod("p", "", ""), nodeWith(n, testPod("a", "2", "4Gi")), nil},
		{"limits count when requests are missing", testPod("p", "", "", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Resources.Limits = map[string]string{"cpu": "3"}
		}), nodeWith(n), []Reason{ReasonInsufficientCPU}},
		{"containers add up", testPod("p", "1", "", func(p *skiffv1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, &skiffv1.Container{Name: "d", Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "1500m"}}})
		}), nodeWith(n), []Reason{ReasonInsufficientCPU}},
		{"node without pods figure holds 110", testPod("p", "", ""), nodeWith(testNode("m", "1", "1Gi", func(n *skiffv1.Node) { delete(n.Status.Allocatable, "pods") })), nil},
	})
}

func TestVolumeFilter(t *testing.T) {
	cl := fakeCluster{
		volumes: map[string]*skiffv1.Volume{
			"default/pinned":  testVolume("pinned", "ReadWriteOnce", "n1"),
			"default/local":   testVolume("local", "ReadWriteMany", ""),
			"default/rwo":     testVolume("rwo", "", "-"),
			"default/rwx":     testVolume("rwx", "ReadWriteMany", "-"),
			"default/unused":  testVolume("unused", "ReadWriteOnce", "-"),
			"default/localrw": testVolume("localrw", "ReadWriteMany", "n1"),
		},
		inUse: map[string][]string{"default/rwo": {"n2"}, "default/rwx": {"n2"}, "default/local": {"n3"}, "default/localrw": {"n1"}},
	}
	cases := []struct {
		name   string
		volume string
		node   string
		want   Reason // "" fits
	}{
		{"local pinned, right node", "pinned", "n1", ""},
		{"local pinned, other node", "pinned", "n2", ReasonVolumeNodeConflict},
		{"local unpinned follows its users", "local", "n1", ReasonVolumeInUse},
		{"local unpinned on its users' node", "local", "n3", ""},
		{"rwo in use elsewhere", "rwo", "n1", ReasonVolumeInUse},
		{"rwo in use on this node", "rwo", "n2", ""},
		{"rwx shared", "rwx", "n1", ""},
		{"rwo unused", "unused", "n1", ""},
		{"local rwx on its node", "localrw", "n1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pi := NewPodInfo(testPod("p", "", "", usingVolume(tc.volume)))
			if st := (volumeFilter{}).PreFilter(pi, nil, cl); st != nil {
				t.Fatalf("prefilter: %v", st)
			}
			st := volumeFilter{}.Filter(pi, nodeWith(testNode(tc.node, "1", "1Gi")))
			var got Reason
			if st != nil {
				got = st.Failures[0].Reason
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	pi := NewPodInfo(testPod("p", "", "", usingVolume("nope")))
	st := volumeFilter{}.PreFilter(pi, nil, cl)
	if st == nil || st.Failures[0].String() != `volume "nope" not found` {
		t.Fatalf("missing volume: %+v", st)
	}
}

// pinnedTo gives the pod the node affinity a DaemonSet's pods carry.
func pinnedTo(node string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		p.Spec.Affinity = &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &skiffv1.NodeSelector{
			NodeSelectorTerms: []*skiffv1.NodeSelectorTerm{{MatchFields: []*skiffv1.NodeSelectorRequirement{{Key: "metadata.name", Operator: "In", Values: []string{node}}}}},
		}}}
	}
}
