package scheduler

// nodeConditionFilter keeps pods off nodes that are not Ready or are cordoned.
type nodeConditionFilter struct{}

func (nodeConditionFilter) Name() string { return "NodeCondition" }

func (nodeConditionFilter) Filter(p *PodInfo, n *NodeInfo) *Status {
	// As Kubernetes' NodeUnschedulable: a pod that tolerates the
	// unschedulable taint (a DaemonSet's) goes on a cordoned node.
	if n.Unschedulable && !p.Pod.GetSpec().ToleratesUnschedulable() {
		return Reject(ReasonNodeUnschedulable, "")
	}
	if !n.Ready {
		return Reject(ReasonNodeNotReady, "")
	}
	return nil
}

// nodeSelectorFilter requires every label of spec.nodeSelector on the node,
// and the node to satisfy the pod's required node affinity.
type nodeSelectorFilter struct{}

func (nodeSelectorFilter) Name() string { return "NodeSelector" }

func (nodeSelectorFilter) Filter(p *PodInfo, n *NodeInfo) *Status {
	if !p.Pod.GetSpec().GetAffinity().MatchesNode(n.Node) {
		return Reject(ReasonNodeSelector, "")
	}
	sel := p.Pod.GetSpec().GetNodeSelector()
	if len(sel) == 0 {
		return nil
	}
	labels := n.Node.GetMetadata().GetLabels()
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return Reject(ReasonNodeSelector, "")
		}
	}
	return nil
}
