package scheduler

import (
	"testing"
)

func TestLeastAllocatedScorer(t *testing.T) {
	n := testNode("n", "4", "8Gi")
	cases := []struct {
		name string
		pod  *PodInfo
		node *NodeInfo
		want int64
	}{
		{"empty node, half of both", NewPodInfo(testPod("p", "2", "4Gi")), nodeWith(n), 50},
		{"full after placing", NewPodInfo(testPod("p", "2", "4Gi")), nodeWith(n, testPod("a", "2", "4Gi")), 0},
		{"cpu free, memory half", NewPodInfo(testPod("p", "1", "4Gi")), nodeWith(n), (75 + 50) / 2},
		{"over-committed scores zero", NewPodInfo(testPod("p", "8", "16Gi")), nodeWith(n), 0},
		{"best effort counts defaults", NewPodInfo(testPod("p", "", "")), nodeWith(testNode("m", "1", "2000Mi")), (90 + 90) / 2},
		{"no allocatable", NewPodInfo(testPod("p", "1", "1Gi")), nodeWith(testNode("z", "0", "0")), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := (leastAllocatedScorer{}).Score(tc.pod, tc.node); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestBalancedScorer(t *testing.T) {
	n := testNode("n", "4", "8Gi")
	cases := []struct {
		name string
		pod  *PodInfo
		node *NodeInfo
		want int64
	}{
		{"same fraction", NewPodInfo(testPod("p", "2", "4Gi")), nodeWith(n), 100},
		{"cpu only", NewPodInfo(testPod("p", "4", "1Mi")), nodeWith(n), 50},
		{"quarter apart", NewPodInfo(testPod("p", "1", "4Gi")), nodeWith(n), 87},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := (balancedScorer{}).Score(tc.pod, tc.node); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestOwnerSpreadScorer(t *testing.T) {
	n1 := nodeWith(testNode("n1", "4", "8Gi"), testPod("a", "", "", ownedBy("rs")), testPod("b", "", "", ownedBy("rs")))
	n2 := nodeWith(testNode("n2", "4", "8Gi"), testPod("c", "", "", ownedBy("rs")), testPod("d", "", "", ownedBy("other")))
	n3 := nodeWith(testNode("n3", "4", "8Gi"))
	nodes := []*NodeInfo{n1, n2, n3}
	cases := []struct {
		name string
		pod  *PodInfo
		want []int64
	}{
		{"fewest of the owner wins", NewPodInfo(testPod("p", "", "", ownedBy("rs"))), []int64{0, 50, 100}},
		{"other owner", NewPodInfo(testPod("p", "", "", ownedBy("other"))), []int64{100, 0, 100}},
		{"no owner is neutral", NewPodInfo(testPod("p", "", "")), []int64{100, 100, 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ownerSpreadScorer{}
			got := make([]int64, len(nodes))
			for i, n := range nodes {
				got[i] = s.Score(tc.pod, n)
			}
			s.Normalize(tc.pod, nodes, got)
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}
