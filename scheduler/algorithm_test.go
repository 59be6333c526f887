package scheduler

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestFitErrorMessage(t *testing.T) {
	nodes := []*NodeInfo{
		nodeWith(testNode("a", "1", "4Gi")),
		nodeWith(testNode("b", "1", "4Gi")),
		nodeWith(testNode("c", "8", "4Gi", withTaint("dedicated", "db", "NoSchedule"))),
	}
	_, err := NewAlgorithm(AlgorithmOptions{}).Schedule(NewPodInfo(testPod("p", "2", "1Gi")), nodes, fakeCluster{})
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("want a FitError, got %v", err)
	}
	want := "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {dedicated=db}."
	if fe.Error() != want {
		t.Fatalf("message\n got %q\nwant %q", fe.Error(), want)
	}
	if got := fmt.Sprint(fe.Reasons()); got != "[InsufficientCPU UntoleratedTaint]" {
		t.Fatalf("reasons %s", got)
	}
}

func TestFitErrorMessageOrder(t *testing.T) {
	cases := []struct {
		name string
		err  *FitError
		want string
	}{
		{"ties sorted by text", &FitError{NumNodes: 2, Nodes: map[string]*Status{
			"x": Reject(ReasonNodeUnschedulable, ""), "y": Reject(ReasonInsufficientMemory, ""),
		}}, "0/2 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable."},
		{"several reasons on one node", &FitError{NumNodes: 2, Nodes: map[string]*Status{
			"x": {Failures: []Failure{{Reason: ReasonInsufficientCPU}, {Reason: ReasonInsufficientMemory}}},
			"y": Reject(ReasonInsufficientMemory, ""),
		}}, "0/2 nodes are available: 2 Insufficient memory, 1 Insufficient cpu."},
		{"different taints counted apart", &FitError{NumNodes: 3, Nodes: map[string]*Status{
			"x": Reject(ReasonUntoleratedTaint, "a=1"), "y": Reject(ReasonUntoleratedTaint, "b"), "z": Reject(ReasonUntoleratedTaint, "b"),
		}}, "0/3 nodes are available: 2 node(s) had untolerated taint {b}, 1 node(s) had untolerated taint {a=1}."},
		{"pod-level", &FitError{NumNodes: 4, Pod: Reject(ReasonVolumeNotFound, "data")}, `0/4 nodes are available: volume "data" not found.`},
		{"no nodes", &FitError{}, "0/0 nodes are available: no nodes registered."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestScheduleInvalidRequest(t *testing.T) {
	_, err := NewAlgorithm(AlgorithmOptions{}).Schedule(NewPodInfo(testPod("p", "lots", "")), []*NodeInfo{nodeWith(testNode("a", "1", "1Gi"))}, fakeCluster{})
	var fe *FitError
	if !errors.As(err, &fe) || fe.Pod == nil || fe.Pod.Failures[0].Reason != ReasonInvalidRequest {
		t.Fatalf("got %v", err)
	}
}

func TestSchedulePicksLeastAllocated(t *testing.T) {
	nodes := []*NodeInfo{
		nodeWith(testNode("busy", "4", "8Gi"), testPod("a", "3", "6Gi")),
		nodeWith(testNode("idle", "4", "8Gi")),
		nodeWith(testNode("small", "1", "1Gi")),
	}
	res, err := NewAlgorithm(AlgorithmOptions{}).Schedule(NewPodInfo(testPod("p", "500m", "1Gi")), nodes, fakeCluster{})
	if err != nil || res.Node != "idle" {
		t.Fatalf("got %+v, %v", res, err)
	}
}

// Assuming each decision, as the cache does, nine pods of one owner land
// three per node on three equal nodes — with and without requests.
func TestScheduleSpreadsOwner(t *testing.T) {
	for _, cpu := range []string{"", "100m"} {
		t.Run("cpu="+cpu, func(t *testing.T) {
			nodes := []*NodeInfo{
				nodeWith(testNode("n1", "4", "8Gi")),
				nodeWith(testNode("n2", "4", "8Gi")),
				nodeWith(testNode("n3", "4", "8Gi")),
			}
			alg := NewAlgorithm(AlgorithmOptions{})
			count := map[string]int{}
			for i := range 9 {
				pi := NewPodInfo(podN("web", i, cpu, "", ownedBy("rs1")))
				res, err := alg.Schedule(pi, nodes, fakeCluster{})
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range nodes {
					if n.Name == res.Node {
						n.AddPod(pi)
					}
				}
				count[res.Node]++
			}
			if count["n1"] != 3 || count["n2"] != 3 || count["n3"] != 3 {
				t.Fatalf("spread %v", count)
			}
		})
	}
}

// The same pod and snapshot give the same node; different pods spread over
// equal nodes through the UID hash.
func TestScheduleTieBreakDeterministic(t *testing.T) {
	var nodes []*NodeInfo
	for i := range 20 {
		nodes = append(nodes, nodeWith(testNode(fmt.Sprintf("n%d", i), "4", "8Gi")))
	}
	alg := NewAlgorithm(AlgorithmOptions{})
	seen := map[string]bool{}
	for i := range 50 {
		pi := NewPodInfo(podN("p", i, "1", "1Gi"))
		a, err := alg.Schedule(pi, nodes, fakeCluster{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := alg.Schedule(NewPodInfo(podN("p", i, "1", "1Gi")), nodes, fakeCluster{})
		if a.Node != b.Node {
			t.Fatalf("pod %d: %s then %s", i, a.Node, b.Node)
		}
		seen[a.Node] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 pods on 20 equal nodes used only %d nodes", len(seen))
	}
}

func TestScheduleSamplesBigClusters(t *testing.T) {
	var nodes []*NodeInfo
	for i := range 5000 {
		nodes = append(nodes, nodeWith(testNode(fmt.Sprintf("n%d", i), "4", "8Gi")))
	}
	res, err := NewAlgorithm(AlgorithmOptions{}).Schedule(NewPodInfo(testPod("p", "1", "1Gi")), nodes, fakeCluster{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Evaluated != 500 || res.Feasible != 500 {
		t.Fatalf("at 5000 nodes looked at %d, want 500 (10%%)", res.Evaluated)
	}
	res, _ = NewAlgorithm(AlgorithmOptions{PercentageOfNodesToScore: 100}).Schedule(NewPodInfo(testPod("p", "1", "1Gi")), nodes, fakeCluster{})
	if res.Evaluated != 5000 {
		t.Fatalf("with 100%% looked at %d", res.Evaluated)
	}
	// Unschedulable: every node is looked at, and counted in the message.
	_, err = NewAlgorithm(AlgorithmOptions{}).Schedule(NewPodInfo(testPod("p", "5", "")), nodes, fakeCluster{})
	if err == nil || err.Error() != "0/5000 nodes are available: 5000 Insufficient cpu." {
		t.Fatalf("got %v", err)
	}
}

func TestScheduleRespectsEveryFilter(t *testing.T) {
	cl := fakeCluster{volumes: map[string]*skiffv1.Volume{"default/data": testVolume("data", "ReadWriteOnce", "n4")}}
	nodes := []*NodeInfo{
		nodeWith(testNode("n0", "8", "8Gi", cordoned)),
		nodeWith(testNode("n1", "8", "8Gi", notReady)),
		nodeWith(testNode("n2", "8", "8Gi", withTaint("gpu", "", "NoExecute"))),
		nodeWith(testNode("n3", "8", "8Gi", withLabel("disk", "hdd"))),
		nodeWith(testNode("n4", "8", "8Gi", withLabel("disk", "ssd"))),
		nodeWith(testNode("n5", "8", "8Gi", withLabel("disk", "ssd")), testPod("x", "", "", hostPort(80, ""))),
	}
	pod := testPod("p", "1", "", selecting("disk", "ssd"), usingVolume("data"), hostPort(80, ""))
	res, err := NewAlgorithm(AlgorithmOptions{}).Schedule(NewPodInfo(pod), nodes, cl)
	if err != nil || res.Node != "n4" {
		t.Fatalf("got %+v %v", res, err)
	}
	nodes[4].AddPod(NewPodInfo(testPod("y", "", "", hostPort(80, ""))))
	_, err = NewAlgorithm(AlgorithmOptions{}).Schedule(NewPodInfo(pod), nodes, cl)
	// Every node is counted under its first failing filter.
	// (n2 has no disk label, so the selector rejects it before its taint.)
	want := "0/6 nodes are available: 2 node(s) didn't match Pod's node selector, 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) had volume node affinity conflict, 1 node(s) were not ready, 1 node(s) were unschedulable."
	if err == nil || err.Error() != want {
		t.Fatalf("\n got %v\nwant %s", err, want)
	}
}

// A pod's effective request is the larger of its containers' sum and its
// largest init container's, as in Kubernetes.
func TestInitContainersEffectiveRequest(t *testing.T) {
	p := testPod("p", "500m", "1Gi")
	big := proto.Clone(p.Spec.Containers[0]).(*skiffv1.Container)
	big.Name, big.Resources.Requests = "setup", map[string]string{"cpu": "2", "memory": "512Mi"}
	p.Spec.InitContainers = []*skiffv1.Container{big}
	pi := NewPodInfo(p)
	if pi.Requests.MilliCPU != 2000 || pi.Requests.Memory != 1<<30 {
		t.Fatalf("requests %+v: want 2 cpu (the init container's) and 1Gi (the containers')", pi.Requests)
	}
	_, err := NewAlgorithm(AlgorithmOptions{}).Schedule(pi, []*NodeInfo{nodeWith(testNode("a", "1", "4Gi"))}, fakeCluster{})
	if err == nil {
		t.Fatal("a 1-cpu node took a pod whose init container asks 2")
	}
}
