package nodeagent

import (
	"context"
	"fmt"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Init containers run one at a time, in order, each to completion, before
// any of the pod's containers starts. A failing one is run again (with the
// same back-off as a crashing container) unless the pod's restartPolicy is
// Never, which fails the pod. Once every one has succeeded they are not
// run again, even when a container of the pod restarts.

// initRestartPolicy is the restart policy of a pod's init containers: they
// must end, so a success is never restarted.
func initRestartPolicy(podPolicy string) string {
	if podPolicy == "Never" {
		return "Never"
	}
	return "OnFailure"
}

// succeeded reports whether an instance ran to completion with success.
func succeeded(in *instance) bool {
	return in != nil && in.state.Status == runtime.StatusExited && !failedState(in.state)
}

func failedState(s runtime.State) bool {
	return s.ExitCode != 0 || s.Signal != 0 || s.OOMKilled || s.Status == runtime.StatusUnknown
}

// syncInitContainers moves the pod's init containers one step on.
// initialized reports that every one has succeeded, so the containers may
// run; changed, that one was started or stopped.
func (a *Agent) syncInitContainers(ctx context.Context, pod *skiffv1.Pod, insts map[string][]instance, st *podState) (initialized, changed bool) {
	if st.initialized {
		return true, false
	}
	// A container of the pod that ran means the pod was initialized
	// before (by an agent before this one).
	for _, c := range pod.Spec.Containers {
		if len(insts[c.Name]) > 0 {
			st.initialized = true
			return true, false
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if succeeded(latest(insts[c.Name])) {
			continue
		}
		changed, err := a.syncContainerWithPolicy(ctx, pod, c, insts[c.Name], st, initRestartPolicy(pod.Spec.RestartPolicy))
		if err != nil {
			a.log.Debug("init container sync", "pod", client.KeyOf(pod), "container", c.Name, "err", err)
		}
		return false, changed
	}
	st.initialized = true
	return true, false
}

// initStatus is what the pod's init containers say about the pod.
type initStatus struct {
	done   bool // every one succeeded
	failed bool // one failed and will not run again (restartPolicy Never)
}

// initContainerStatuses reports the pod's init containers as Kubernetes'
// status.initContainerStatuses does: ready once they succeeded.
func (a *Agent) initContainerStatuses(pod *skiffv1.Pod, st *podState, insts map[string][]instance) ([]*skiffv1.ContainerStatus, initStatus) {
	var out []*skiffv1.ContainerStatus
	res := initStatus{done: true}
	policy := initRestartPolicy(pod.Spec.RestartPolicy)
	for _, c := range pod.Spec.InitContainers {
		cs := st.container(c.Name)
		list := insts[c.Name]
		s := &skiffv1.ContainerStatus{Name: c.Name, Image: c.Image, ImageId: cs.imageID}
		cur := latest(list)
		if cur != nil {
			s.ContainerId = cur.state.ID
			s.RestartCount = int32(cur.attempt)
			s.State = stateOf(cur.state, cs.killedBy)
			if prev := previous(list); prev != nil {
				s.LastState = stateOf(prev.state, cs.prevKilledBy)
			}
		}
		switch {
		case succeeded(cur):
			s.Ready = true
		case cs.waitingReason != "" && !running(cur):
			if s.State.GetTerminated() != nil {
				s.LastState = s.State
			}
			s.State = &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: cs.waitingReason, Message: cs.waitingMessage}}
		case running(cur):
			s.Started = true
		case cur != nil && !shouldRestart(policy, cur.state):
			res.failed = true
		case cur == nil:
			s.State = &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "PodInitializing"}}
		}
		if !succeeded(cur) {
			res.done = false
		}
		out = append(out, s)
	}
	if st.initialized {
		res.done = true // an init container removed later does not undo it
	}
	return out, res
}

// initializedCondition is the pod's Initialized condition.
func initializedCondition(res initStatus, statuses []*skiffv1.ContainerStatus) *skiffv1.Condition {
	if res.done {
		return &skiffv1.Condition{Type: skiffv1.PodInitialized, Status: skiffv1.ConditionTrue}
	}
	var pending []string
	for _, s := range statuses {
		if !s.Ready {
			pending = append(pending, s.Name)
		}
	}
	return &skiffv1.Condition{Type: skiffv1.PodInitialized, Status: skiffv1.ConditionFalse, Reason: "ContainersNotInitialized",
		Message: fmt.Sprintf("containers with incomplete status: %v", pending)}
}
