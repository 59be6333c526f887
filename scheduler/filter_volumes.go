package scheduler

import (
	"fmt"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// volumeFilter honours the Volume objects a pod uses: a local volume pins
// its pods to the node that holds it, and a ReadWriteOnce volume already in
// use on one node keeps its other pods on that node. A claim (a Volume
// without a source) must be bound to a PersistentVolume first, and that
// volume's node affinity holds, as Kubernetes' VolumeBinding plugin has it.
type volumeFilter struct{}

func (volumeFilter) Name() string { return "Volumes" }

// PreFilter resolves the pod's volumes into node pins once per attempt, so
// the per-node check is a string compare.
func (volumeFilter) PreFilter(p *PodInfo, _ []*NodeInfo, c Cluster) *Status {
	p.Pins = p.Pins[:0]
	p.VolumeAffinities = p.VolumeAffinities[:0]
	for _, key := range p.Volumes {
		v, ok := c.Volume(key)
		if !ok {
			return Reject(ReasonVolumeNotFound, key[len(p.Pod.GetMetadata().GetNamespace())+1:])
		}
		if s := v.GetSpec(); s.GetLocal() == nil && s.GetHostPath() == nil && s.GetNfs() == nil {
			pv, ok := c.PersistentVolume(s.GetVolumeName())
			ref := pv.GetSpec().GetClaimRef()
			if s.GetVolumeName() == "" || !ok || ref.GetUid() != v.GetMetadata().GetUid() || ref.GetName() != v.GetMetadata().GetName() {
				return Reject(ReasonUnboundClaim, "")
			}
			if sel := pv.GetSpec().GetNodeAffinity().GetRequired(); sel != nil {
				p.VolumeAffinities = append(p.VolumeAffinities, sel)
			}
		}
		if local := v.GetSpec().GetLocal(); local != nil && local.GetNodeName() != "" {
			p.Pins = append(p.Pins, VolumePin{Node: local.GetNodeName(), Reason: ReasonVolumeNodeConflict, Volume: v.GetMetadata().GetName()})
		}
		// A local volume not pinned yet is in effect ReadWriteOnce: its data
		// will live on the first node that uses it.
		rwo := v.GetSpec().GetAccessMode() != "ReadWriteMany" || v.GetSpec().GetLocal() != nil
		if !rwo {
			continue
		}
		for _, node := range c.VolumeNodes(key) {
			p.Pins = append(p.Pins, VolumePin{Node: node, Reason: ReasonVolumeInUse})
		}
	}
	return nil
}

func (volumeFilter) Filter(p *PodInfo, n *NodeInfo) *Status {
	for _, sel := range p.VolumeAffinities {
		a := &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel}}
		if !a.MatchesNode(n.Node) {
			return Reject(ReasonVolumeNodeConflict, "")
		}
	}
	for _, pin := range p.Pins {
		if pin.Node != n.Name {
			return Reject(pin.Reason, "")
		}
	}
	return nil
}

// lostVolumeNode explains a pod that no node could take because a local
// volume of it lives on a node that is gone or not ready: no other node
// can ever take it, so it waits for that node (or for its claim to be
// deleted), and the message says so rather than counting the other nodes'
// conflicts. Kubernetes keeps such a pod Pending the same way (its volume's
// node affinity names the lost node).
func lostVolumeNode(p *PodInfo, nodes []*NodeInfo) *Status {
	for _, pin := range p.Pins {
		if pin.Reason != ReasonVolumeNodeConflict {
			continue
		}
		var held *NodeInfo
		for _, n := range nodes {
			if n.Name == pin.Node {
				held = n
				break
			}
		}
		detail := fmt.Sprintf("local volume %q lives on node %q", pin.Volume, pin.Node)
		switch {
		case held == nil || held.Node == nil:
			return Reject(ReasonVolumeNodeMissing, detail)
		case !held.Ready:
			return Reject(ReasonVolumeNodeNotReady, detail)
		}
	}
	return nil
}
