package scheduler

import skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"

// Filter decides whether a node can take a pod. It must be pure and fast: it
// runs for up to every node on every attempt, under the cache's lock.
type Filter interface {
	Name() string
	// Filter returns nil when node can take pod.
	Filter(pod *PodInfo, node *NodeInfo) *Status
}

// PreFilter is what a Filter also implements when it must look at the whole
// cluster once per pod before the per-node checks (the volume filter finds
// the nodes a pod's volumes pin it to). A non-nil Status fails the pod on
// every node.
type PreFilter interface {
	PreFilter(pod *PodInfo, cluster Cluster) *Status
}

// Scorer ranks the nodes that passed the filters: 0 (worst) to MaxScore.
type Scorer interface {
	Name() string
	Score(pod *PodInfo, node *NodeInfo) int64
}

// Normalizer is what a Scorer also implements when its raw scores only mean
// something relative to the other feasible nodes (spreading). It rewrites
// scores, one per node in the same order, into 0..MaxScore.
type Normalizer interface {
	Normalize(pod *PodInfo, nodes []*NodeInfo, scores []int64)
}

// MaxScore is the best score a Scorer gives.
const MaxScore = 100

// Cluster is what pre-filters may look up beyond one node.
type Cluster interface {
	// Volume returns the Volume object with this key (namespace/name).
	Volume(key string) (*skiffv1.Volume, bool)
	// VolumeNodes lists the nodes where bound or assumed pods use the volume.
	VolumeNodes(key string) []string
	// PersistentVolume returns the PersistentVolume with this name.
	PersistentVolume(name string) (*skiffv1.PersistentVolume, bool)
}
