package scheduler

import (
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// defaultMaxPods is the pod capacity of a node that does not report one (the
// kubelet's default).
const defaultMaxPods = 110

// NodeInfo is a node and what it holds, kept current by the cache. Filters
// and scorers read it; only the cache writes it.
type NodeInfo struct {
	Node        *skiffv1.Node // nil while only pods name it
	Name        string
	Allocatable Resources
	// Requested sums the requests of its pods, bound and assumed.
	Requested Resources
	// NonZeroRequested is Requested with the scoring defaults for empty requests.
	NonZeroRequested Resources
	Ready            bool
	// Unschedulable is spec.unschedulable (cordoned), copied here because
	// the filters read it for thousands of nodes per decision.
	Unschedulable bool
	// Taints that keep pods away (NoSchedule and NoExecute).
	Taints []*skiffv1.Taint
	// Pods by key.
	Pods map[string]*PodInfo

	usedPorts map[HostPort]int
	owners    map[string]int // owner UID → pods here
	volumes   map[string]int // volume key → pods here
	index     int            // position in the cache's node list, -1 when absent
}

// NewNodeInfo makes the NodeInfo of a node holding nothing yet; node may be
// nil for a node only known from pods bound to it.
func NewNodeInfo(node *skiffv1.Node) *NodeInfo {
	ni := &NodeInfo{
		Pods:      map[string]*PodInfo{},
		usedPorts: map[HostPort]int{},
		owners:    map[string]int{},
		volumes:   map[string]int{},
		index:     -1,
	}
	ni.SetNode(node)
	return ni
}

// SetNode replaces the node object, keeping the pods.
func (n *NodeInfo) SetNode(node *skiffv1.Node) {
	n.Node = node
	if node == nil {
		n.Ready, n.Unschedulable = false, false
		return
	}
	n.Name = node.GetMetadata().GetName()
	n.Allocatable = nodeAllocatable(node)
	n.Ready = skiffv1.IsNodeReady(node)
	n.Unschedulable = node.GetSpec().GetUnschedulable()
	n.Taints = nil
	for _, t := range node.GetSpec().GetTaints() {
		if t.GetEffect() == "NoSchedule" || t.GetEffect() == "NoExecute" {
			n.Taints = append(n.Taints, t)
		}
	}
}

// AddPod counts a pod on the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	if _, ok := n.Pods[p.Key]; ok {
		n.RemovePod(p.Key)
	}
	n.Pods[p.Key] = p
	n.Requested = n.Requested.add(p.Requests)
	n.NonZeroRequested = n.NonZeroRequested.add(p.NonZero)
	for _, hp := range p.HostPorts {
		n.usedPorts[hp]++
	}
	if p.Owner != "" {
		n.owners[p.Owner]++
	}
	for _, v := range p.Volumes {
		n.volumes[v]++
	}
}

// RemovePod stops counting the pod with this key; it reports whether it was there.
func (n *NodeInfo) RemovePod(key string) bool {
	p, ok := n.Pods[key]
	if !ok {
		return false
	}
	delete(n.Pods, key)
	n.Requested = n.Requested.sub(p.Requests)
	n.NonZeroRequested = n.NonZeroRequested.sub(p.NonZero)
	for _, hp := range p.HostPorts {
		if n.usedPorts[hp]--; n.usedPorts[hp] <= 0 {
			delete(n.usedPorts, hp)
		}
	}
	if p.Owner != "" {
		if n.owners[p.Owner]--; n.owners[p.Owner] <= 0 {
			delete(n.owners, p.Owner)
		}
	}
	for _, v := range p.Volumes {
		if n.volumes[v]--; n.volumes[v] <= 0 {
			delete(n.volumes, v)
		}
	}
	return true
}

// PortInUse reports whether a pod here already claims hp.
func (n *NodeInfo) PortInUse(hp HostPort) bool { return n.usedPorts[hp] > 0 }

// OwnerPods is how many pods of this owner are on the node.
func (n *NodeInfo) OwnerPods(owner string) int { return n.owners[owner] }

// UsesVolume reports whether a pod here uses the volume with this key.
func (n *NodeInfo) UsesVolume(key string) bool { return n.volumes[key] > 0 }

// nodeAllocatable reads status.allocatable, falling back to capacity for the
// resources an agent did not report as allocatable. An unparsable quantity
// counts as zero: such a node takes no pods that request that resource.
func nodeAllocatable(node *skiffv1.Node) Resources {
	st := node.GetStatus()
	get := func(name string) (quantity.Quantity, bool) {
		s, ok := st.GetAllocatable()[name]
		if !ok {
			s, ok = st.GetCapacity()[name]
		}
		if !ok {
			return quantity.Quantity{}, false
		}
		q, err := quantity.Parse(s)
		return q, err == nil
	}
	var r Resources
	if q, ok := get("cpu"); ok {
		r.MilliCPU = q.MilliValue()
	}
	if q, ok := get("memory"); ok {
		r.Memory = q.Value()
	}
	r.Pods = defaultMaxPods
	if q, ok := get("pods"); ok {
		r.Pods = q.Value()
	}
	return r
}
