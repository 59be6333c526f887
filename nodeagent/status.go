package nodeagent

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// reportStatus computes the pod's status from the runtime and the worker's
// memory and writes it when it changed, or when the stored status no
// longer says what the agent sees.
func (a *Agent) reportStatus(ctx context.Context, pod *skiffv1.Pod, st *podState, insts map[string][]instance) error {
	status := a.podStatus(pod, st, insts)
	if st.lastStatus != nil && proto.Equal(st.lastStatus, status) && !overwritten(pod.GetStatus(), status) {
		return nil
	}
	next := proto.Clone(pod).(*skiffv1.Pod)
	next.Metadata.ResourceVersion = "" // the status is ours to write
	next.Status = status
	written, err := a.cfg.Client.Pods().UpdateStatus(ctx, next)
	if err != nil {
		if client.IsNotFound(err) {
			return nil
		}
		return err
	}
	st.lastWrite = revision(written.GetMetadata().GetResourceVersion())
	if !st.runningSeen && status.Phase == skiffv1.PodRunning && allStarted(status) {
		st.runningSeen = true
		a.metrics.podStart.Observe(time.Since(pod.Metadata.CreationTimestamp.AsTime()).Seconds())
	}
	st.lastStatus = status
	return nil
}

// withOwnStatus is pod as the agent last wrote it when pod is older than
// that write: the informer has not delivered the write yet. Its stored
// status would make the agent compute a status on stale ground (start
// time, conditions' transition times) and take it for someone else's
// write, writing again for nothing; in a burst of pods the informer lags
// and every pod's status was written two or three times more.
func withOwnStatus(pod *skiffv1.Pod, st *podState) *skiffv1.Pod {
	if st.lastStatus == nil || st.lastWrite == 0 {
		return pod
	}
	if rv := revision(pod.GetMetadata().GetResourceVersion()); rv == 0 || rv >= st.lastWrite {
		return pod
	}
	// Shares the stale pod's metadata and spec: nothing here changes them.
	return &skiffv1.Pod{Metadata: pod.Metadata, Spec: pod.Spec, Status: st.lastStatus}
}

// revision is a resource version as the store's revision, which orders
// the writes of an object; 0 when it is not one.
func revision(rv string) int64 {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// agentConditions are the pod conditions the agent keeps.
var agentConditions = []string{skiffv1.PodInitialized, skiffv1.ContainersReady, skiffv1.PodReady}

// overwritten reports whether the stored status disagrees with the one the
// agent computed on a condition the agent keeps: someone else wrote it.
// The node lifecycle controller does, marking the pods of a node it has not
// heard from Ready=False; once the node is back its agent sees the same
// containers as before, and without this check would never write again.
// A stored pod older than the agent's last write may disagree too: that
// costs one write more, not a wrong status.
func overwritten(stored, computed *skiffv1.PodStatus) bool {
	for _, typ := range agentConditions {
		s := skiffv1.FindCondition(stored.GetConditions(), typ)
		c := skiffv1.FindCondition(computed.GetConditions(), typ)
		if s.GetStatus() != c.GetStatus() || s.GetReason() != c.GetReason() || s.GetMessage() != c.GetMessage() {
			return true
		}
	}
	return false
}

func allStarted(s *skiffv1.PodStatus) bool {
	for _, c := range s.ContainerStatuses {
		if c.State.GetRunning() == nil {
			return false
		}
	}
	return true
}

func (a *Agent) podStatus(pod *skiffv1.Pod, st *podState, insts map[string][]instance) *skiffv1.PodStatus {
	old := pod.GetStatus()
	s := &skiffv1.PodStatus{
		PodIp:     st.podIP,
		HostIp:    a.cfg.AdvertiseAddress,
		StartTime: old.GetStartTime(),
	}
	if s.StartTime == nil {
		s.StartTime = timestamppb.Now()
	}
	var init initStatus
	s.InitContainerStatuses, init = a.initContainerStatuses(pod, st, insts)
	var running, restarting, succeeded, failed, waiting, ready int
	for _, c := range pod.Spec.Containers {
		cs := st.container(c.Name)
		list := insts[c.Name]
		out, _ := containerStatus(c, cs, list)
		switch {
		case out.State.GetRunning() != nil && cs.waitingReason == "":
			out.Started = cs.started
			out.Ready = cs.ready && cs.started
			running++
			if cs.ready {
				ready++
			}
		case cs.waitingReason != "":
			// Waiting to (re)start: the last exit moves to lastState.
			if out.State.GetTerminated() != nil {
				out.LastState = out.State
			}
			out.State = &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: cs.waitingReason, Message: cs.waitingMessage}}
			waiting++
		case out.State.GetTerminated() != nil && shouldRestart(pod.Spec.RestartPolicy, latest(list).state):
			// Exited, and the restart policy will start it again.
			restarting++
		case out.State.GetTerminated() != nil:
			if t := out.State.GetTerminated(); t.ExitCode == 0 && t.Signal == 0 && t.Reason == "Completed" {
				succeeded++
			} else {
				failed++
			}
		default:
			reason := "ContainerCreating"
			if !init.done {
				reason = "PodInitializing"
			}
			out.State = &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: reason}}
			waiting++
		}
		s.ContainerStatuses = append(s.ContainerStatuses, out)
	}
	a.addTerminationMessages(pod, st, insts, s)
	n := len(pod.Spec.Containers)
	switch {
	case running > 0 || restarting > 0:
		s.Phase = skiffv1.PodRunning
	case waiting > 0 && everStarted(s):
		s.Phase = skiffv1.PodRunning // restarting after a crash
	case waiting > 0:
		s.Phase = skiffv1.PodPending
	case succeeded == n:
		s.Phase = skiffv1.PodSucceeded
	default:
		s.Phase = skiffv1.PodFailed
	}
	switch {
	case st.deadlineExceeded:
		s.Phase, s.Reason, s.Message = skiffv1.PodFailed, "DeadlineExceeded", deadlineMessage
	case init.failed:
		s.Phase = skiffv1.PodFailed
	case !init.done:
		s.Phase = skiffv1.PodPending
	}
	if skiffv1.IsTerminalPhase(s.Phase) && sidecarRunning(pod, insts) {
		// Not finished until its sidecars have stopped too: a terminal
		// phase ends the agent's care for the pod.
		s.Phase = skiffv1.PodRunning
	}
	allReady := ready == n && n > 0 && init.sidecarsReady
	conds := append([]*skiffv1.Condition(nil), old.GetConditions()...)
	now := time.Now()
	skiffv1.SetCondition(&conds, initializedCondition(pod, init, s.InitContainerStatuses), now)
	skiffv1.SetCondition(&conds, podCondition(skiffv1.ContainersReady, allReady), now)
	skiffv1.SetCondition(&conds, podCondition(skiffv1.PodReady, allReady), now)
	s.Conditions = conds
	return s
}

func everStarted(s *skiffv1.PodStatus) bool {
	for _, c := range s.ContainerStatuses {
		if c.RestartCount > 0 || c.LastState.GetTerminated() != nil {
			return true
		}
	}
	return false
}

// podCondition is one of the conditions the agent keeps: True, or False
// because a container is not ready.
func podCondition(typ string, ok bool) *skiffv1.Condition {
	if ok {
		return &skiffv1.Condition{Type: typ, Status: skiffv1.ConditionTrue}
	}
	return &skiffv1.Condition{Type: typ, Status: skiffv1.ConditionFalse, Reason: skiffv1.ReasonContainersNotReady}
}

// stateOf translates the runtime's view of one instance.
func stateOf(s runtime.State, killedBy string) *skiffv1.ContainerState {
	switch s.Status {
	case runtime.StatusRunning, runtime.StatusCreated:
		return &skiffv1.ContainerState{Running: &skiffv1.ContainerStateRunning{StartedAt: ts(s.StartedAt)}}
	}
	t := &skiffv1.ContainerStateTerminated{
		ExitCode: int32(s.ExitCode), Signal: int32(s.Signal),
		StartedAt: ts(s.StartedAt), FinishedAt: ts(s.FinishedAt), Message: s.Error,
	}
	switch {
	case s.OOMKilled:
		t.Reason = "OOMKilled"
	case s.Error != "":
		t.Reason = "StartError"
	case s.Status == runtime.StatusUnknown:
		t.Reason = "Unknown"
	case killedBy != "":
		t.Reason = "Error"
		t.Message = killedBy
	case s.ExitCode == 0 && s.Signal == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return &skiffv1.ContainerState{Terminated: t}
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// containerStatus is a container's status as its instances tell it: the
// latest one's state, and the one before's as the last state; cur is the
// latest (nil before the first start).
func containerStatus(c *skiffv1.Container, cs *containerState, list []instance) (s *skiffv1.ContainerStatus, cur *instance) {
	s = &skiffv1.ContainerStatus{Name: c.Name, Image: c.Image, ImageId: cs.imageID}
	if cur = latest(list); cur != nil {
		s.ContainerId = cur.state.ID
		s.RestartCount = int32(cur.attempt)
		s.State = stateOf(cur.state, cs.killedBy)
		if prev := previous(list); prev != nil {
			s.LastState = stateOf(prev.state, cs.prevKilledBy)
		}
	}
	return s, cur
}
