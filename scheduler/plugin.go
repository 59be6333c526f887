package scheduler

import (
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

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
	PreFilter(pod *PodInfo, nodes []*NodeInfo, cluster Cluster) *Status
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
	Pods
}

// Pods is what the inter-pod plugins (pod affinity, topology spread) look
// up: the pods on nodes, bound or assumed, found through an index rather
// than by a scan of every node.
type Pods interface {
	// EachPodMaybeMatching calls fn for every pod that may match sel, and
	// the node it is on: a superset (fn checks sel), narrowed by one of
	// sel's equality requirements when it has one.
	EachPodMaybeMatching(sel labels.Selector, fn func(p *PodInfo, node *NodeInfo))
	// EachPodWithTermsFor calls fn for every pod with inter-pod affinity
	// or anti-affinity terms that may match pod: a superset (fn checks).
	EachPodWithTermsFor(pod *PodInfo, fn func(p *PodInfo, node *NodeInfo))
	// NamespaceLabels returns a namespace's labels (false: none such).
	NamespaceLabels(ns string) (map[string]string, bool)
}

// ScanPods answers Pods by scanning the pods of its nodes: for tests and
// benchmarks, where there is no cache.
type ScanPods struct {
	Nodes      []*NodeInfo
	Namespaces map[string]map[string]string
}

// EachPodMaybeMatching calls fn for every pod of every node.
func (s ScanPods) EachPodMaybeMatching(_ labels.Selector, fn func(*PodInfo, *NodeInfo)) {
	for _, n := range s.Nodes {
		for _, p := range n.Pods {
			fn(p, n)
		}
	}
}

// EachPodWithTermsFor calls fn for the pods that have affinity terms.
func (s ScanPods) EachPodWithTermsFor(_ *PodInfo, fn func(*PodInfo, *NodeInfo)) {
	for _, n := range s.Nodes {
		for _, p := range n.Pods {
			if p.terms.any() {
				fn(p, n)
			}
		}
	}
}

// NamespaceLabels looks the namespace up in Namespaces.
func (s ScanPods) NamespaceLabels(ns string) (map[string]string, bool) {
	l, ok := s.Namespaces[ns]
	return l, ok
}
