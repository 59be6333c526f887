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
	for _, c := range p.GetSpec().GetInitContainers() {
		if skiffv1.IsSidecar(c) {
			s.total++ // counted in READY as kubectl does
		}
	}
	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}
	hasRunning := false
	cs := st.GetContainerStatuses()
	if r, initializing := initReason(p, &s); initializing && !skiffv1.IsConditionTrue(st.GetConditions(), skiffv1.PodInitialized) {
		// As kubectl: while init containers run, they are the status.
		reason, cs = r, nil
	}
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

// initReason is the status of a pod whose init containers have not all
// succeeded: Init:N/M, or Init: and what stops the first unfinished one
// (Init:CrashLoopBackOff, Init:Error, Init:ExitCode:1). A sidecar that
// started is done initializing, and counts in READY.
func initReason(p *skiffv1.Pod, s *podSummary) (string, bool) {
	specs := p.GetSpec().GetInitContainers()
	n := len(specs)
	for i, c := range p.GetStatus().GetInitContainerStatuses() {
		s.restarts += int(c.GetRestartCount())
		if i < n && skiffv1.IsSidecar(specs[i]) && c.GetStarted() {
			if c.GetReady() {
				s.ready++
			}
			continue
		}
		t, w := c.GetState().GetTerminated(), c.GetState().GetWaiting()
		switch {
		case t != nil && t.GetExitCode() == 0 && t.GetSignal() == 0:
			continue
		case t != nil && t.GetReason() != "":
			return "Init:" + t.GetReason(), true
		case t != nil && t.GetSignal() != 0:
			return fmt.Sprintf("Init:Signal:%d", t.GetSignal()), true
		case t != nil:
			return fmt.Sprintf("Init:ExitCode:%d", t.GetExitCode()), true
		case w != nil && w.GetReason() != "" && w.GetReason() != "PodInitializing":
			return "Init:" + w.GetReason(), true
		default:
			return fmt.Sprintf("Init:%d/%d", i, n), true
		}
	}
	return "", false
}
