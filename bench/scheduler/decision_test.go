package scheduler

import (
	"fmt"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/scheduler"
)

// noVolumes has no volumes; its pods are found by scanning nodes.
type noVolumes struct{ scheduler.ScanPods }

func (noVolumes) Volume(string) (*skiffv1.Volume, bool) { return nil, false }
func (noVolumes) VolumeNodes(string) []string           { return nil }
func (noVolumes) PersistentVolume(string) (*skiffv1.PersistentVolume, bool) {
	return nil, false
}

// BenchmarkDecision5000Nodes times one scheduling decision (filter, score,
// pick) over 5,000 nodes that already hold two pods each, in memory.
func BenchmarkDecision5000Nodes(b *testing.B) {
	for _, pct := range []int{0, 100} {
		name := "adaptive"
		if pct == 100 {
			name = "allNodes"
		}
		b.Run(name, func(b *testing.B) {
			nodes := make([]*scheduler.NodeInfo, 5000)
			for i := range nodes {
				nodes[i] = scheduler.NewNodeInfo(benchNode(i))
				for j := range 2 {
					p := benchPod(i*2 + j)
					p.Metadata.Uid = fmt.Sprintf("bound-%d", i*2+j)
					nodes[i].AddPod(scheduler.NewPodInfo(p))
				}
			}
			alg := scheduler.NewAlgorithm(scheduler.AlgorithmOptions{PercentageOfNodesToScore: pct})
			pods := make([]*scheduler.PodInfo, 1024)
			for i := range pods {
				p := benchPod(i)
				p.Metadata.Uid = fmt.Sprintf("uid-%d", i)
				pods[i] = scheduler.NewPodInfo(p)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := alg.Schedule(pods[i%len(pods)], nodes, noVolumes{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
