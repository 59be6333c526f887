package nodeagent

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// sandboxGone reports whether the pod's sandbox, made earlier, no longer
// exists: its namespaces were unpinned by something other than this pod's
// worker (a clean-up run by hand, a bug elsewhere).
func (a *Agent) sandboxGone(uid string) bool {
	_, err := a.runtime.Sandbox(uid)
	return errors.Is(err, runtime.ErrNotFound)
}

// lostSandbox reports whether the pod had a sandbox that is gone: one
// this worker made, or, at the worker's first sync, one that containers of
// the pod ran in before the agent restarted or the machine rebooted.
func (a *Agent) lostSandbox(uid string, st *podState, insts map[string][]instance) bool {
	had := st.sandboxReady && !st.sandboxLost || !st.sandboxLooked && len(insts) > 0
	st.sandboxLooked = true
	return had && a.sandboxGone(uid)
}

// replaceSandbox does what the kubelet does when a pod's sandbox changed:
// the pod's containers, left without their network, are killed. Unless the
// pod's restartPolicy is Never (it then fails, as there), it gets a new
// sandbox and address at once: its init containers run again in it, then
// its containers start again, without a crash's back-off. It returns the
// pod's instances as they are after the kill.
func (a *Agent) replaceSandbox(ctx context.Context, pod *skiffv1.Pod, st *podState, insts map[string][]instance) (map[string][]instance, error) {
	uid := pod.Metadata.Uid
	a.log.Warn("pod sandbox is gone: killing its containers", "pod", client.KeyOf(pod), "pod_uid", uid)
	a.event(ctx, pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
	for name, list := range insts {
		if cur := latest(list); running(cur) {
			if err := a.runtime.Stop(ctx, cur.state.ID, syscall.SIGKILL, 0); err != nil && !errors.Is(err, runtime.ErrNotRunning) && !errors.Is(err, runtime.ErrNotFound) {
				return insts, err
			}
			st.container(name).killedBy = "the pod's sandbox changed"
		}
	}
	// No back-off for these exits: they were not crashes.
	now := time.Now()
	for name := range insts {
		st.container(name).notBefore = now
	}
	if a.net != nil {
		if err := a.net.RemoveHostPorts(uid); err != nil {
			return insts, err
		}
		if err := a.net.Detach(ctx, uid, ""); err != nil {
			return insts, err
		}
	}
	// What is left of the old one (namespaces still pinned, the pod
	// cgroup) goes now, whether or not a new one is made.
	if err := a.runtime.RemoveSandbox(uid); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return insts, err
	}
	st.steady, st.sandboxReady = false, false
	// A Never pod's containers all ended now: it fails, and needs no
	// sandbox any more.
	if pod.Spec.RestartPolicy == "Never" {
		st.sandboxLost = true
	} else {
		st.initialized, st.sandboxReplaced = false, now
	}
	return a.instancesOf(uid)
}

// ranBeforeSandbox reports whether in started before the pod's sandbox
// was last replaced.
func (st *podState) ranBeforeSandbox(in *instance) bool {
	return in != nil && !st.sandboxReplaced.IsZero() && in.state.CreatedAt.Before(st.sandboxReplaced)
}
