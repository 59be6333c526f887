package nodeagent

import (
	"context"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// deadlineMessage is the pod's status message once activeDeadlineSeconds
// has passed, as the kubelet words it.
const deadlineMessage = "Pod was active on the node longer than the specified deadline"

// pastActiveDeadline reports whether the pod has been active on the node
// longer than its activeDeadlineSeconds, counted from status.startTime.
func pastActiveDeadline(pod *skiffv1.Pod, now time.Time) bool {
	d := pod.GetSpec().ActiveDeadlineSeconds
	start := pod.GetStatus().GetStartTime()
	if d == nil || start == nil {
		return false
	}
	return now.Sub(start.AsTime()) >= time.Duration(*d)*time.Second
}

// enforceActiveDeadline stops every container of a pod past its deadline,
// once; the pod then reports phase Failed, reason DeadlineExceeded, and
// nothing of it runs again. acted reports that containers were stopped.
func (a *Agent) enforceActiveDeadline(ctx context.Context, pod *skiffv1.Pod, st *podState, insts map[string][]instance) (acted bool) {
	if st.deadlineExceeded || !pastActiveDeadline(pod, time.Now()) {
		return false
	}
	st.deadlineExceeded = true
	a.event(ctx, pod, "Warning", "DeadlineExceeded", deadlineMessage)
	grace := time.Duration(pod.Spec.GetTerminationGracePeriodSeconds()) * time.Second
	done := make(chan struct{})
	n := 0
	for _, c := range append(append([]*skiffv1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		in := latest(insts[c.Name])
		if in == nil || in.state.Status != runtime.StatusRunning {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			a.stopContainer(ctx, pod, c, in, st.podIP, grace)
		}()
	}
	for ; n > 0; n-- {
		<-done
	}
	return true
}
