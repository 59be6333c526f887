package scheduler

// nodeConditionFilter keeps pods off nodes that are not Ready or are cordoned.
type nodeConditionFilter struct{}

func (nodeConditionFilter) Name() string { return "NodeCondition" }

func (nodeConditionFilter) Filter(_ *PodInfo, n *NodeInfo) *Status {
	if n.Unschedulable {
		return Reject(ReasonNodeUnschedulable, "")
	}
	if !n.Ready {
		return Reject(ReasonNodeNotReady, "")
	}
	return nil
}

// nodeSelectorFilter requires every label of spec.nodeSelector on the node.
type nodeSelectorFilter struct{}

func (nodeSelectorFilter) Name() string { return "NodeSelector" }

func (nodeSelectorFilter) Filter(p *PodInfo, n *NodeInfo) *Status {
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
