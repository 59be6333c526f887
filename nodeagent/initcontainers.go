package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
// initialized reports that every regular one has succeeded and every
// sidecar has started, so the containers may run; changed, that one was
// started or stopped. A sidecar (restartPolicy Always) does not block the
// next init container once it started (its startup probe passed); it is
// restarted whenever it exits, whatever the pod's restartPolicy, until the
// pod's containers are done.
func (a *Agent) syncInitContainers(ctx context.Context, pod *skiffv1.Pod, insts map[string][]instance, st *podState) (initialized, changed bool) {
	if !st.initialized && st.sandboxReplaced.IsZero() {
		// A container of the pod that ran means the pod was initialized
		// before (by an agent before this one).
		for _, c := range pod.Spec.Containers {
			if len(insts[c.Name]) > 0 {
				st.initialized = true
				break
			}
		}
	}
	if st.initialized {
		return true, a.syncSidecars(ctx, pod, insts, st)
	}
	for _, c := range pod.Spec.InitContainers {
		if skiffv1.IsSidecar(c) {
			started, err := a.syncContainerWithPolicy(ctx, pod, c, insts[c.Name], st, "Always")
			if err != nil {
				a.log.Debug("sidecar sync", "pod", client.KeyOf(pod), "container", c.Name, "err", err)
			}
			changed = changed || started
			cs := st.container(c.Name)
			// Started now, or running before: either way the next one
			// may go once the startup probe (if any) passed.
			if (started && err == nil || running(latest(insts[c.Name]))) && cs.started {
				continue
			}
			return false, changed
		}
		// One that ran in a sandbox since replaced runs again, whatever
		// its exit.
		last := latest(insts[c.Name])
		stale := st.ranBeforeSandbox(last)
		if succeeded(last) && !stale {
			continue
		}
		policy := initRestartPolicy(pod.Spec.RestartPolicy)
		if stale {
			policy = "Always"
		}
		started, err := a.syncContainerWithPolicy(ctx, pod, c, insts[c.Name], st, policy)
		if err != nil {
			a.log.Debug("init container sync", "pod", client.KeyOf(pod), "container", c.Name, "err", err)
		}
		if cur := latest(insts[c.Name]); cur != nil && !running(cur) && !shouldRestart(policy, cur.state) {
			// The pod failed: the sidecars started before go too.
			grace := time.Duration(pod.Spec.GetTerminationGracePeriodSeconds()) * time.Second
			started = a.stopSidecars(ctx, pod, insts, st.podIP, grace, time.Now().Add(grace)) || started
		}
		return false, changed || started
	}
	st.initialized = true
	return true, changed
}

// syncSidecars keeps the sidecars of an initialized pod running and
// probed, and stops them (in reverse order) once the pod's containers are
// done and will not run again.
func (a *Agent) syncSidecars(ctx context.Context, pod *skiffv1.Pod, insts map[string][]instance, st *podState) (changed bool) {
	if !hasSidecars(pod) {
		return false
	}
	if containersDone(pod, insts) {
		grace := time.Duration(pod.Spec.GetTerminationGracePeriodSeconds()) * time.Second
		return a.stopSidecars(ctx, pod, insts, st.podIP, grace, time.Now().Add(grace))
	}
	for _, c := range pod.Spec.InitContainers {
		if !skiffv1.IsSidecar(c) {
			continue
		}
		started, err := a.syncContainerWithPolicy(ctx, pod, c, insts[c.Name], st, "Always")
		if err != nil {
			a.log.Debug("sidecar sync", "pod", client.KeyOf(pod), "container", c.Name, "err", err)
		}
		changed = changed || started
	}
	return changed
}

func hasSidecars(pod *skiffv1.Pod) bool {
	for _, c := range pod.Spec.InitContainers {
		if skiffv1.IsSidecar(c) {
			return true
		}
	}
	return false
}

// containersDone reports whether every container of the pod has exited
// for good under the pod's restartPolicy: a Job's pod is then complete,
// and its sidecars have nothing left to serve.
func containersDone(pod *skiffv1.Pod, insts map[string][]instance) bool {
	if len(pod.Spec.Containers) == 0 {
		return false
	}
	for _, c := range pod.Spec.Containers {
		cur := latest(insts[c.Name])
		if cur == nil || running(cur) || shouldRestart(pod.Spec.RestartPolicy, cur.state) {
			return false
		}
	}
	return true
}

// sidecarRunning reports whether a sidecar of the pod still runs.
func sidecarRunning(pod *skiffv1.Pod, insts map[string][]instance) bool {
	for _, c := range pod.Spec.InitContainers {
		if skiffv1.IsSidecar(c) && running(latest(insts[c.Name])) {
			return true
		}
	}
	return false
}

// stopSidecars stops the pod's running sidecars one by one in reverse
// order of their declaration, each with its preStop hook, within what is
// left of grace at deadline (at least minGraceAfterPreStop each, unless
// grace is 0: at once).
func (a *Agent) stopSidecars(ctx context.Context, pod *skiffv1.Pod, insts map[string][]instance, podIP string, grace time.Duration, deadline time.Time) (stopped bool) {
	for i := len(pod.Spec.InitContainers) - 1; i >= 0; i-- {
		c := pod.Spec.InitContainers[i]
		in := latest(insts[c.Name])
		if !skiffv1.IsSidecar(c) || !running(in) {
			continue
		}
		stopped = true
		if in.state.Status == runtime.StatusCreated {
			// Never started (an agent stopped in between): nothing to
			// stop, and it must not start.
			if err := a.runtime.Remove(ctx, in.state.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Warn("remove a sidecar that never started", "container", in.state.ID, "err", err)
			}
			continue
		}
		left := time.Duration(0)
		if grace > 0 {
			left = max(time.Until(deadline), minGraceAfterPreStop)
		}
		a.stopContainer(ctx, pod, c, in, podIP, left)
	}
	return stopped
}

// stopWithSidecars stops a pod that has sidecars as the kubelet does: its
// containers (and a regular init container still running) at once, each
// with its preStop hook, then its sidecars in reverse order, all within
// grace.
func (a *Agent) stopWithSidecars(ctx context.Context, pod *skiffv1.Pod, insts map[string][]instance, podIP string, grace time.Duration) {
	deadline := time.Now().Add(grace)
	var wg sync.WaitGroup
	for _, c := range append(append([]*skiffv1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		in := latest(insts[c.Name])
		if skiffv1.IsSidecar(c) || in == nil || in.state.Status != runtime.StatusRunning {
			continue // what never started, the teardown removes
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.stopContainer(ctx, pod, c, in, podIP, grace)
		}()
	}
	wg.Wait()
	a.stopSidecars(ctx, pod, insts, podIP, grace, deadline)
}

// initStatus is what the pod's init containers say about the pod.
type initStatus struct {
	done   bool // every regular one succeeded, every sidecar started
	failed bool // one failed and will not run again (restartPolicy Never)
	// sidecarsReady: every sidecar runs and is ready; the pod is ready
	// only then.
	sidecarsReady bool
}

// initContainerStatuses reports the pod's init containers as Kubernetes'
// status.initContainerStatuses does: ready once they succeeded.
func (a *Agent) initContainerStatuses(pod *skiffv1.Pod, st *podState, insts map[string][]instance) ([]*skiffv1.ContainerStatus, initStatus) {
	var out []*skiffv1.ContainerStatus
	res := initStatus{done: true, sidecarsReady: true}
	policy := initRestartPolicy(pod.Spec.RestartPolicy)
	for _, c := range pod.Spec.InitContainers {
		if skiffv1.IsSidecar(c) {
			s := a.sidecarStatus(c, st, insts[c.Name])
			res.done = res.done && s.Started
			res.sidecarsReady = res.sidecarsReady && s.Ready
			out = append(out, s)
			continue
		}
		cs := st.container(c.Name)
		s, cur := containerStatus(c, cs, insts[c.Name])
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

// sidecarStatus reports a sidecar as the kubelet does: started once its
// startup probe passed, ready by its readiness probe, like a container.
func (a *Agent) sidecarStatus(c *skiffv1.Container, st *podState, list []instance) *skiffv1.ContainerStatus {
	cs := st.container(c.Name)
	s, cur := containerStatus(c, cs, list)
	switch {
	case running(cur) && cs.waitingReason == "":
		s.Started = cs.started
		s.Ready = cs.started && cs.ready
	case cs.waitingReason != "" && !running(cur):
		if s.State.GetTerminated() != nil {
			s.LastState = s.State
		}
		s.State = &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: cs.waitingReason, Message: cs.waitingMessage}}
	case cur == nil:
		s.State = &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "PodInitializing"}}
	}
	return s
}

// initializedCondition is the pod's Initialized condition.
func initializedCondition(pod *skiffv1.Pod, res initStatus, statuses []*skiffv1.ContainerStatus) *skiffv1.Condition {
	if res.done {
		return &skiffv1.Condition{Type: skiffv1.PodInitialized, Status: skiffv1.ConditionTrue}
	}
	var pending []string
	for i, s := range statuses {
		// A sidecar is done initializing once it started.
		if sidecar := skiffv1.IsSidecar(pod.Spec.InitContainers[i]); sidecar && !s.Started || !sidecar && !s.Ready {
			pending = append(pending, s.Name)
		}
	}
	return &skiffv1.Condition{Type: skiffv1.PodInitialized, Status: skiffv1.ConditionFalse, Reason: "ContainersNotInitialized",
		Message: fmt.Sprintf("containers with incomplete status: %v", pending)}
}
