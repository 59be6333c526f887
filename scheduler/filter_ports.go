package scheduler

// hostPortFilter keeps two pods that claim the same host port apart.
type hostPortFilter struct{}

func (hostPortFilter) Name() string { return "HostPorts" }

func (hostPortFilter) Filter(p *PodInfo, n *NodeInfo) *Status {
	for _, hp := range p.HostPorts {
		if n.PortInUse(hp) {
			return Reject(ReasonHostPortConflict, "")
		}
	}
	return nil
}
