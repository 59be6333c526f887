package scheduler

import (
	"errors"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A pod whose local volume lives on a node that is gone or not ready
// waits for that node, and its message says so instead of counting the
// other nodes' volume conflicts.
func TestScheduleLocalVolumeOnLostNode(t *testing.T) {
	cluster := fakeCluster{volumes: map[string]*skiffv1.Volume{"default/data-web-1": testVolume("data-web-1", "ReadWriteOnce", "n3")}}
	pod := func() *PodInfo { return NewPodInfo(testPod("web-1", "", "", usingVolume("data-web-1"))) }
	alg := NewAlgorithm(AlgorithmOptions{})
	for _, tc := range []struct {
		name   string
		nodes  []*NodeInfo
		want   string
		reason Reason
	}{
		{"node gone", []*NodeInfo{nodeWith(testNode("n1", "4", "4Gi")), nodeWith(testNode("n2", "4", "4Gi"))},
			`0/2 nodes are available: local volume "data-web-1" lives on node "n3", which is not in the cluster: the pod waits for that node to join again, or for the claim to be deleted.`,
			ReasonVolumeNodeMissing},
		{"node not ready", []*NodeInfo{nodeWith(testNode("n1", "4", "4Gi")), nodeWith(testNode("n3", "4", "4Gi", notReady, withTaint("node.skiff.io/unreachable", "", "NoExecute")))},
			`0/2 nodes are available: local volume "data-web-1" lives on node "n3", which is not ready: the pod waits for that node, or for the claim to be deleted.`,
			ReasonVolumeNodeNotReady},
		// The node is there and Ready but full: the usual per-node count.
		{"node full", []*NodeInfo{nodeWith(testNode("n1", "4", "4Gi")), nodeWith(testNode("n3", "4", "4Gi", maxPods("0")))},
			`0/2 nodes are available: 1 Too many pods, 1 node(s) had volume node affinity conflict.`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alg.Schedule(pod(), tc.nodes, cluster)
			var fe *FitError
			if !errors.As(err, &fe) {
				t.Fatalf("want a FitError, got %v", err)
			}
			if fe.Error() != tc.want {
				t.Errorf("message\n got %s\nwant %s", fe.Error(), tc.want)
			}
			if tc.reason != "" && (len(fe.Reasons()) != 1 || fe.Reasons()[0] != tc.reason) {
				t.Errorf("reasons %v, want %s", fe.Reasons(), tc.reason)
			}
		})
	}
	// Back and Ready: the pod goes there.
	res, err := alg.Schedule(pod(), []*NodeInfo{nodeWith(testNode("n1", "4", "4Gi")), nodeWith(testNode("n3", "4", "4Gi"))}, cluster)
	if err != nil || res.Node != "n3" {
		t.Fatalf("with n3 back: %+v %v", res, err)
	}
}
