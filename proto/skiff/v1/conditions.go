package skiffv1

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// The names of phases, conditions and reasons that more than one component
// reads or writes, as Kubernetes spells them. Everyone uses these constants:
// a misspelt string would compile and silently never match.

// Pod phases (PodStatus.phase).
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// Condition statuses (Condition.status).
const (
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"
)

// Condition types. Pods and nodes share "Ready".
const (
	// PodScheduled: the pod has a node (set by the API server's Bind, or
	// False with ReasonUnschedulable by the scheduler).
	PodScheduled = "PodScheduled"
	// PodInitialized, ContainersReady and PodReady are kept by the node
	// agent; PodReady is what services and replica sets count.
	PodInitialized  = "Initialized"
	ContainersReady = "ContainersReady"
	PodReady        = "Ready"
	// NodeReady is the agent's heartbeat; the node lifecycle controller
	// turns it Unknown when the heartbeat stops.
	NodeReady = "Ready"
	// ReplicaFailure: a replica set could not create or delete a pod.
	ReplicaFailure = "ReplicaFailure"
	// AbleToScale, ScalingActive and ScalingLimited are an autoscaler's.
	AbleToScale    = "AbleToScale"
	ScalingActive  = "ScalingActive"
	ScalingLimited = "ScalingLimited"
)

// Reasons more than one component writes or reads.
const (
	// ReasonUnschedulable: PodScheduled is False because no node fits.
	ReasonUnschedulable = "Unschedulable"
	// ReasonNodeStatusUnknown: NodeReady is Unknown because the agent
	// stopped posting status.
	ReasonNodeStatusUnknown = "NodeStatusUnknown"
	// ReasonContainersNotReady: PodReady or ContainersReady is False.
	ReasonContainersNotReady = "ContainersNotReady"
	// ReasonNodeNotReady: PodReady is False because the pod's node turned
	// Ready=Unknown; its agent sets the real value when it is back.
	ReasonNodeNotReady = "NodeNotReady"
)

// FindCondition returns the condition of type typ, or nil.
func FindCondition(conds []*Condition, typ string) *Condition {
	for _, c := range conds {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// IsConditionTrue reports whether the condition of type typ is True.
func IsConditionTrue(conds []*Condition, typ string) bool {
	return FindCondition(conds, typ).GetStatus() == ConditionTrue
}

// SetCondition replaces the condition of c's type, or adds it. Its
// lastTransitionTime is now, or the old condition's when the status did
// not change — so re-setting an unchanged condition changes nothing.
func SetCondition(conds *[]*Condition, c *Condition, now time.Time) {
	c.LastTransitionTime = timestamppb.New(now)
	for i, old := range *conds {
		if old.GetType() == c.GetType() {
			if old.GetStatus() == c.GetStatus() {
				c.LastTransitionTime = old.GetLastTransitionTime()
			}
			(*conds)[i] = c
			return
		}
	}
	*conds = append(*conds, c)
}

// RemoveCondition drops the condition of type typ, if any.
func RemoveCondition(conds *[]*Condition, typ string) {
	kept := (*conds)[:0]
	for _, c := range *conds {
		if c.GetType() != typ {
			kept = append(kept, c)
		}
	}
	*conds = kept
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(p *Pod) bool { return IsConditionTrue(p.GetStatus().GetConditions(), PodReady) }

// IsNodeReady reports whether the node's Ready condition is True.
func IsNodeReady(n *Node) bool { return IsConditionTrue(n.GetStatus().GetConditions(), NodeReady) }

// IsPodTerminal reports whether the pod has finished (Succeeded or
// Failed): it holds no resources and will not run again.
func IsPodTerminal(p *Pod) bool { return IsTerminalPhase(p.GetStatus().GetPhase()) }

// IsTerminalPhase reports whether a pod phase is Succeeded or Failed.
func IsTerminalPhase(phase string) bool { return phase == PodSucceeded || phase == PodFailed }

// Volume and PersistentVolume phases, as Kubernetes spells them: a claim
// (a Volume) is Pending, Bound or Lost; a PersistentVolume is Pending (just
// made), Available, Bound or Released.
const (
	VolumePending   = "Pending"
	VolumeAvailable = "Available"
	VolumeBound     = "Bound"
	VolumeReleased  = "Released"
	VolumeLost      = "Lost"
)

// PersistentVolume reclaim policies: what happens to a PersistentVolume
// when its claim is deleted.
const (
	ReclaimRetain = "Retain"
	ReclaimDelete = "Delete"
)
