package scheduler

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A pod whose claim is not bound waits with Kubernetes' message; once the
// claim is bound to a local PersistentVolume, only the nodes of the
// volume's node affinity take it.
func TestClaimsWaitForBindingAndFollowNodeAffinity(t *testing.T) {
	class := "local"
	claim := &skiffv1.Volume{
		Metadata: &skiffv1.ObjectMeta{Name: "data", Namespace: "default", Uid: "claim-uid"},
		Spec:     &skiffv1.VolumeSpec{AccessMode: "ReadWriteOnce", StorageClassName: &class},
	}
	pv := &skiffv1.PersistentVolume{
		Metadata: &skiffv1.ObjectMeta{Name: "disk-1"},
		Spec: &skiffv1.PersistentVolumeSpec{
			Local: &skiffv1.LocalPersistentVolumeSource{Path: "/mnt/disk"},
			NodeAffinity: &skiffv1.VolumeNodeAffinity{Required: &skiffv1.NodeSelector{NodeSelectorTerms: []*skiffv1.NodeSelectorTerm{{
				MatchExpressions: []*skiffv1.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"ssd"}}},
			}}}},
		},
	}
	cl := fakeCluster{volumes: map[string]*skiffv1.Volume{"default/data": claim}, pvs: map[string]*skiffv1.PersistentVolume{"disk-1": pv}}
	nodes := []*NodeInfo{
		nodeWith(testNode("a", "8", "8Gi", withLabel("disk", "hdd"))),
		nodeWith(testNode("b", "8", "8Gi", withLabel("disk", "ssd"))),
	}
	pod := testPod("p", "1", "", usingVolume("data"))
	alg := NewAlgorithm(AlgorithmOptions{})

	want := "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
	if _, err := alg.Schedule(NewPodInfo(pod), nodes, cl); err == nil || err.Error() != want {
		t.Fatalf("unbound claim:\n got %v\nwant %s", err, want)
	}
	// Named by the claim but not (yet) reserving it: still unbound.
	claim.Spec.VolumeName = "disk-1"
	if _, err := alg.Schedule(NewPodInfo(pod), nodes, cl); err == nil || err.Error() != want {
		t.Fatalf("half-bound claim:\n got %v\nwant %s", err, want)
	}
	pv.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "default", Name: "data", Uid: "claim-uid"}
	res, err := alg.Schedule(NewPodInfo(pod), nodes, cl)
	if err != nil || res.Node != "b" {
		t.Fatalf("bound to a volume on disk=ssd nodes: got %+v %v, want node b", res, err)
	}
	nodes = nodes[:1]
	want = "0/1 nodes are available: 1 node(s) had volume node affinity conflict."
	if _, err := alg.Schedule(NewPodInfo(pod), nodes, cl); err == nil || err.Error() != want {
		t.Fatalf("no node of the volume:\n got %v\nwant %s", err, want)
	}
}
