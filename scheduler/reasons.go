package scheduler

import "fmt"

// Reason names why a node, or the whole cluster, cannot take a pod. Its value
// is the label of skiff_scheduler_unschedulable_reasons_total; its text (see
// Failure.String) is what a person reads in the pod's condition.
type Reason string

// The rejection reasons the built-in filters give.
const (
	ReasonNodeNotReady       Reason = "NodeNotReady"
	ReasonNodeUnschedulable  Reason = "NodeUnschedulable"
	ReasonNodeSelector       Reason = "NodeSelectorMismatch"
	ReasonUntoleratedTaint   Reason = "UntoleratedTaint"
	ReasonHostPortConflict   Reason = "HostPortConflict"
	ReasonInsufficientCPU    Reason = "InsufficientCPU"
	ReasonInsufficientMemory Reason = "InsufficientMemory"
	ReasonTooManyPods        Reason = "TooManyPods"
	ReasonVolumeNodeConflict Reason = "VolumeNodeConflict"
	ReasonVolumeInUse        Reason = "VolumeInUse"
	// Inter-pod affinity and topology spread, as kube-scheduler words them.
	ReasonPodAffinity          Reason = "PodAffinityRulesNotMatch"
	ReasonPodAntiAffinity      Reason = "PodAntiAffinityRulesNotMatch"
	ReasonExistingAntiAffinity Reason = "ExistingPodsAntiAffinityRulesNotMatch"
	ReasonTopologySpread       Reason = "TopologySpreadConstraintsNotMatch"
	ReasonTopologyLabelMissing Reason = "TopologySpreadLabelMissing"
	// Pod-level reasons: they hold for every node at once.
	ReasonVolumeNotFound Reason = "VolumeNotFound"
	// A local volume's node is gone or not ready: no node can take the
	// pod until it is back (or the claim is deleted).
	ReasonVolumeNodeMissing  Reason = "VolumeNodeMissing"
	ReasonVolumeNodeNotReady Reason = "VolumeNodeNotReady"
	ReasonUnboundClaim       Reason = "UnboundPersistentVolumeClaim"
	ReasonInvalidRequest     Reason = "InvalidRequest"
	ReasonNoNodes            Reason = "NoNodes"
)

// Failure is one reason with its detail (the taint, the volume name…).
type Failure struct {
	Reason Reason
	Detail string
}

// String is the text counted in the "0/N nodes are available" message. The
// wording follows kube-scheduler's so that people who know it read it at once.
func (f Failure) String() string {
	switch f.Reason {
	case ReasonNodeNotReady:
		return "node(s) were not ready"
	case ReasonNodeUnschedulable:
		return "node(s) were unschedulable"
	case ReasonNodeSelector:
		return "node(s) didn't match Pod's node selector"
	case ReasonUntoleratedTaint:
		return "node(s) had untolerated taint {" + f.Detail + "}"
	case ReasonHostPortConflict:
		return "node(s) didn't have free ports for the requested pod ports"
	case ReasonInsufficientCPU:
		return "Insufficient cpu"
	case ReasonInsufficientMemory:
		return "Insufficient memory"
	case ReasonTooManyPods:
		return "Too many pods"
	case ReasonVolumeNodeConflict:
		return "node(s) had volume node affinity conflict"
	case ReasonVolumeInUse:
		return "node(s) had a ReadWriteOnce volume in use on another node"
	case ReasonPodAffinity:
		return "node(s) didn't match pod affinity rules"
	case ReasonPodAntiAffinity:
		return "node(s) didn't match pod anti-affinity rules"
	case ReasonExistingAntiAffinity:
		return "node(s) didn't satisfy existing pods anti-affinity rules"
	case ReasonTopologySpread:
		return "node(s) didn't match pod topology spread constraints"
	case ReasonTopologyLabelMissing:
		return "node(s) didn't match pod topology spread constraints (missing required label)"
	case ReasonVolumeNotFound:
		return fmt.Sprintf("volume %q not found", f.Detail)
	case ReasonVolumeNodeMissing:
		return f.Detail + ", which is not in the cluster: the pod waits for that node to join again, or for the claim to be deleted"
	case ReasonVolumeNodeNotReady:
		return f.Detail + ", which is not ready: the pod waits for that node, or for the claim to be deleted"
	case ReasonUnboundClaim:
		return "pod has unbound immediate PersistentVolumeClaims"
	case ReasonInvalidRequest:
		return "invalid resource request: " + f.Detail
	case ReasonNoNodes:
		return "no nodes registered"
	}
	if f.Detail != "" {
		return string(f.Reason) + ": " + f.Detail
	}
	return string(f.Reason)
}
