package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// postStartTimeout bounds a postStart hook: the kubelet waits for it
// without a limit, but a hook that never returns would hold the pod's
// worker, and with it the pod's deletion, for good.
const postStartTimeout = 2 * time.Minute

// minGraceAfterPreStop is the time a container still gets between SIGTERM
// and SIGKILL when its preStop hook used up the grace period, as the
// kubelet gives.
const minGraceAfterPreStop = 2 * time.Second

// postStart runs the container's postStart hook right after it started.
// As with the kubelet, a failing hook kills the container, and the restart
// policy decides what follows.
func (a *Agent) postStart(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, id string, attempt int, cs *containerState, podIP string) error {
	h := c.GetLifecycle().GetPostStart()
	if h == nil {
		return nil
	}
	in := &instance{podUID: pod.Metadata.Uid, name: c.Name, attempt: attempt, state: runtime.State{ID: id}}
	hctx, cancel := context.WithTimeout(ctx, postStartTimeout)
	err := a.runHandler(hctx, h, in, podIP, postStartTimeout)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The agent is stopping, not the hook failing: the container
		// keeps running for the next agent.
		return ctx.Err()
	}
	msg := fmt.Sprintf("PostStartHook failed: %v", err)
	cs.killedBy = msg
	a.event(ctx, pod, "Warning", "FailedPostStartHook", fmt.Sprintf("Container %s: %s", c.Name, msg))
	grace := time.Duration(pod.Spec.GetTerminationGracePeriodSeconds()) * time.Second
	if err := a.runtime.Stop(ctx, id, syscall.SIGTERM, grace); err != nil && !errors.Is(err, runtime.ErrNotRunning) {
		a.log.Warn("stop after a failed postStart hook", "container", id, "err", err)
	}
	return errors.New(msg)
}

// stopContainer stops one running container the way the kubelet does:
// its preStop hook first, then SIGTERM, SIGKILL at the end of the grace
// period the hook left (at least minGraceAfterPreStop after a hook).
func (a *Agent) stopContainer(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, in *instance, podIP string, grace time.Duration) {
	left := a.preStop(ctx, pod, c, in, podIP, grace)
	if err := a.runtime.Stop(ctx, in.state.ID, syscall.SIGTERM, left); err != nil && !errors.Is(err, runtime.ErrNotRunning) && !errors.Is(err, runtime.ErrNotFound) {
		a.log.Warn("stop container", "container", in.state.ID, "err", err)
	}
}

// preStop runs c's preStop hook, within grace, and returns the grace left
// for SIGTERM. A failed hook is reported and the stop goes on.
func (a *Agent) preStop(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, in *instance, podIP string, grace time.Duration) time.Duration {
	h := c.GetLifecycle().GetPreStop()
	if h == nil || grace <= 0 {
		return grace
	}
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, grace)
	err := a.runHandler(hctx, h, in, podIP, grace)
	cancel()
	if err != nil {
		a.event(ctx, pod, "Warning", "FailedPreStopHook", fmt.Sprintf("Container %s: PreStopHook failed: %v", c.Name, err))
	}
	return max(grace-time.Since(start), minGraceAfterPreStop)
}

// preStopAll runs the preStop hooks of the pod's running containers at
// once, within grace, and returns the grace left for SIGTERM.
func (a *Agent) preStopAll(ctx context.Context, pod *skiffv1.Pod, insts map[string][]instance, podIP string, grace time.Duration) time.Duration {
	var wg sync.WaitGroup
	hooks := 0
	start := time.Now()
	for _, c := range pod.Spec.Containers {
		in := latest(insts[c.Name])
		if c.GetLifecycle().GetPreStop() == nil || in == nil || in.state.Status != runtime.StatusRunning {
			continue
		}
		hooks++
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.preStop(ctx, pod, c, in, podIP, grace)
		}()
	}
	if hooks == 0 || grace <= 0 {
		return grace
	}
	wg.Wait()
	return max(grace-time.Since(start), minGraceAfterPreStop)
}

// runHandler runs one lifecycle hook against a container.
func (a *Agent) runHandler(ctx context.Context, h *skiffv1.LifecycleHandler, in *instance, podIP string, timeout time.Duration) error {
	switch {
	case h.Exec != nil:
		out := &lockedBuffer{}
		code, err := a.runtime.Exec(ctx, in.state.ID, runtime.ExecSpec{Command: h.Exec.Command, Stdout: out, Stderr: out})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, code, truncate(out.bytes(), 1024))
		}
		return nil
	case h.HttpGet != nil:
		sb, err := a.runtime.Sandbox(in.podUID)
		if err != nil {
			return err
		}
		if podIP == "" {
			return errors.New("httpGet: the pod has no IP yet")
		}
		return httpGet(ctx, sb.NetNS, podIP, h.HttpGet, timeout)
	case h.Sleep != nil:
		t := time.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			// The grace period ended first: the sleep was all the hook
			// had to do, so that is no failure.
			return nil
		}
	}
	return errors.New("the hook has no handler")
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
