package cli

import (
	"fmt"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podSummary is what the pod table shows: kubectl's STATUS logic, so that
// people read the same words (CrashLoopBackOff, Completed, Terminating).
type podSummary struct {
	ready, total int
	restarts     int
	status       string
}

func summarizePod(p *skiffv1.Pod) podSummary {
	st := p.GetStatus()
	s := podSummary{total: len(p.GetSpec().GetContainers())}
	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}
	hasRunning := false
	cs := st.GetContainerStatuses()
	// Backwards, so the first container's state is the one shown, as kubectl.
	for i := len(cs) - 1; i >= 0; i-- {
		c := cs[i]
		s.restarts += int(c.GetRestartCount())
		state := c.GetState()
		switch {
		case state.GetWaiting() != nil && state.GetWaiting().GetReason() != "":
			reason = state.GetWaiting().GetReason()
		case state.GetTerminated() != nil && state.GetTerminated().GetReason() != "":
			reason = state.GetTerminated().GetReason()
		case state.GetTerminated() != nil:
			if sig := state.GetTerminated().GetSignal(); sig != 0 {
				reason = fmt.Sprintf("Signal:%d", sig)
			} else {
				reason = fmt.Sprintf("ExitCode:%d", state.GetTerminated().GetExitCode())
			}
		case c.GetReady() && state.GetRunning() != nil:
			hasRunning = true
			s.ready++
		}
	}
	if reason == "Completed" && hasRunning {
		reason = "NotReady"
		if skiffv1.IsConditionTrue(st.GetConditions(), skiffv1.PodReady) {
			reason = "Running"
		}
	}
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		reason = "Terminating"
	}
	if reason == "" {
		reason = "Unknown"
	}
	s.status = reason
	return s
}
