package scheduler

import (
	"fmt"
	"hash/fnv"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// Resources are amounts the scheduler accounts for on a node.
type Resources struct {
	MilliCPU int64
	Memory   int64 // bytes
	Pods     int64
}

func (r Resources) add(o Resources) Resources {
	return Resources{r.MilliCPU + o.MilliCPU, r.Memory + o.Memory, r.Pods + o.Pods}
}

func (r Resources) sub(o Resources) Resources {
	return Resources{r.MilliCPU - o.MilliCPU, r.Memory - o.Memory, r.Pods - o.Pods}
}

// What a pod without requests is taken to use when scoring (not when
// fitting), as kube-scheduler does: otherwise best-effort pods would all pile
// onto the node that looks emptiest.
const (
	defaultScoreMilliCPU = 100
	defaultScoreMemory   = 200 << 20
)

// HostPort is a port a pod claims on its node.
type HostPort struct {
	Protocol string // "TCP" or "UDP"
	Port     int32
}

// PodInfo is a pod with what the scheduler needs from it computed once.
type PodInfo struct {
	Pod       *skiffv1.Pod
	Key       string // namespace/name
	UID       string
	Requests  Resources // what fitting counts; Pods is 1
	NonZero   Resources // what scoring counts (defaults for empty requests)
	HostPorts []HostPort
	// Volumes are the keys (namespace/name) of the Volume objects it uses.
	Volumes []string
	// Owner is the UID of its controlling owner, or "".
	Owner    string
	Priority int32
	Created  time.Time
	// Invalid is set when a request cannot be parsed; such a pod fits nowhere.
	Invalid error
	// Pins are the nodes its volumes tie it to, filled each cycle by the
	// volume pre-filter.
	Pins []VolumePin
	// VolumeAffinities are the node affinities of the PersistentVolumes
	// its claims are bound to (local volumes): a node must satisfy each.
	VolumeAffinities []*skiffv1.NodeSelector

	Namespace string
	Labels    map[string]string
	// Terminating: being deleted; spread constraints do not count it.
	Terminating bool

	terms  *podTerms          // inter-pod affinity, nil without
	spread []spreadConstraint // topology spread constraints
	// Filled each attempt by the pre-filters of the inter-pod affinity and
	// spread plugins.
	interPod    *interPodState
	spreadState *spreadState

	hash uint64
}

// VolumePin says a pod must run on Node because of a volume.
type VolumePin struct {
	Node   string
	Reason Reason // ReasonVolumeNodeConflict or ReasonVolumeInUse
	Volume string // the volume's name, for the message when Node is lost
}

// NewPodInfo computes a PodInfo.
func NewPodInfo(pod *skiffv1.Pod) *PodInfo {
	m := pod.GetMetadata()
	pi := &PodInfo{
		Pod:      pod,
		Key:      podKey(pod),
		UID:      m.GetUid(),
		Priority: pod.GetSpec().GetPriority(),
		Created:  m.GetCreationTimestamp().AsTime(),

		Namespace:   m.GetNamespace(),
		Labels:      m.GetLabels(),
		Terminating: m.GetDeletionTimestamp() != nil,
		terms:       parsePodTerms(pod),
		spread:      parseSpread(pod),
	}
	h := fnv.New64a()
	h.Write([]byte(pi.UID))
	pi.hash = h.Sum64()
	for _, o := range m.GetOwnerReferences() {
		if o.GetController() || pi.Owner == "" {
			pi.Owner = o.GetUid()
		}
	}
	pi.Requests.Pods = 1
	// Init containers run one at a time before the others: the pod needs
	// the most any one of them asks, if that is more than the sum of the
	// containers (Kubernetes' effective request). Sidecars keep running
	// from their start on: beside each later init container, and beside
	// the containers.
	var initCPU, initMem, sideCPU, sideMem int64
	for _, c := range pod.GetSpec().GetInitContainers() {
		cpu, mem, err := containerRequests(c)
		if err != nil && pi.Invalid == nil {
			pi.Invalid = fmt.Errorf("init container %q: %w", c.GetName(), err)
		}
		if skiffv1.IsSidecar(c) {
			sideCPU, sideMem = sideCPU+cpu, sideMem+mem
			cpu, mem = 0, 0
		}
		initCPU, initMem = max(initCPU, sideCPU+cpu), max(initMem, sideMem+mem)
	}
	pi.Requests.MilliCPU, pi.Requests.Memory = sideCPU, sideMem
	for _, c := range pod.GetSpec().GetContainers() {
		cpu, mem, err := containerRequests(c)
		if err != nil && pi.Invalid == nil {
			pi.Invalid = fmt.Errorf("container %q: %w", c.GetName(), err)
		}
		pi.Requests.MilliCPU += cpu
		pi.Requests.Memory += mem
		for _, p := range c.GetPorts() {
			if p.GetHostPort() > 0 {
				proto := p.GetProtocol()
				if proto == "" {
					proto = "TCP"
				}
				pi.HostPorts = append(pi.HostPorts, HostPort{Protocol: proto, Port: p.GetHostPort()})
			}
		}
	}
	pi.Requests.MilliCPU = max(pi.Requests.MilliCPU, initCPU)
	pi.Requests.Memory = max(pi.Requests.Memory, initMem)
	pi.NonZero = pi.Requests
	if pi.NonZero.MilliCPU == 0 {
		pi.NonZero.MilliCPU = defaultScoreMilliCPU
	}
	if pi.NonZero.Memory == 0 {
		pi.NonZero.Memory = defaultScoreMemory
	}
	for _, v := range pod.GetSpec().GetVolumes() {
		if ref := v.GetVolume(); ref != nil && ref.GetName() != "" {
			pi.Volumes = append(pi.Volumes, m.GetNamespace()+"/"+ref.GetName())
		}
	}
	return pi
}

// containerRequests reads a container's cpu (milli) and memory (bytes)
// requests; a missing request falls back to the limit, as in Kubernetes.
func containerRequests(c *skiffv1.Container) (cpu, mem int64, err error) {
	get := func(name string) (quantity.Quantity, error) {
		s, ok := c.GetResources().GetRequests()[name]
		if !ok {
			s, ok = c.GetResources().GetLimits()[name]
		}
		if !ok {
			return quantity.Quantity{}, nil
		}
		q, err := quantity.Parse(s)
		if err == nil && q.Sign() < 0 {
			err = fmt.Errorf("%s request %q is negative", name, s)
		}
		return q, err
	}
	qc, err := get("cpu")
	if err != nil {
		return 0, 0, err
	}
	qm, err := get("memory")
	if err != nil {
		return 0, 0, err
	}
	return qc.MilliValue(), qm.Value(), nil
}

func podKey(p *skiffv1.Pod) string {
	return p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
}

// isTerminal: a finished pod holds no resources.
func isTerminal(p *skiffv1.Pod) bool {
	return skiffv1.IsPodTerminal(p)
}
