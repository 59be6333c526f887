package nodeagent

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// probe runs a running container's startup, liveness and readiness probes
// when they are due. Until the startup probe succeeds the other two wait.
// A liveness or startup failure past its threshold stops the container,
// and the restart policy takes it from there; stopped reports that.
func (a *Agent) probe(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, in *instance, cs *containerState, podIP string) (stopped bool) {
	if cs.probeAttempt != in.attempt {
		cs.probeAttempt = in.attempt
		cs.resetProbes(c)
	}
	if !cs.started {
		ok, ran := a.runProbe(ctx, c.StartupProbe, &cs.startup, in, podIP)
		switch {
		case ran && ok:
			cs.started = true
		case ran && cs.startup.failures >= int(c.StartupProbe.FailureThreshold):
			return a.killUnhealthy(ctx, pod, c, in, cs, podIP, "Startup", c.StartupProbe, cs.startup.failures)
		default:
			return false
		}
	}
	if c.ReadinessProbe == nil {
		cs.ready = true
	} else if ok, ran := a.runProbe(ctx, c.ReadinessProbe, &cs.readiness, in, podIP); ran {
		if ok && cs.readiness.successes >= int(c.ReadinessProbe.SuccessThreshold) {
			cs.ready = true
		}
		if !ok && cs.readiness.failures >= int(c.ReadinessProbe.FailureThreshold) {
			cs.ready = false
		}
	}
	if c.LivenessProbe == nil {
		return false
	}
	ok, ran := a.runProbe(ctx, c.LivenessProbe, &cs.liveness, in, podIP)
	if !ran || ok || cs.liveness.failures < int(c.LivenessProbe.FailureThreshold) {
		return false
	}
	return a.killUnhealthy(ctx, pod, c, in, cs, podIP, "Liveness", c.LivenessProbe, cs.liveness.failures)
}

// killUnhealthy stops a container whose liveness or startup probe failed
// too often, within the probe's grace period if it has one, else the
// pod's.
func (a *Agent) killUnhealthy(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, in *instance, cs *containerState, podIP, kind string, p *skiffv1.Probe, failures int) bool {
	cs.killedBy = kind + " probe failed"
	a.event(ctx, pod, "Warning", "Unhealthy", fmt.Sprintf("%s probe failed %d times; restarting container %s", kind, failures, c.Name))
	grace := time.Duration(pod.Spec.GetTerminationGracePeriodSeconds()) * time.Second
	if p.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	}
	a.stopContainer(ctx, pod, c, in, podIP, grace)
	return true
}

// runProbe runs p if its period has passed since the last run (and the
// initial delay since the start). ran is false when it was not due.
func (a *Agent) runProbe(ctx context.Context, p *skiffv1.Probe, st *probeState, in *instance, podIP string) (ok, ran bool) {
	if p == nil {
		return true, true
	}
	now := time.Now()
	if now.Sub(in.state.StartedAt) < time.Duration(p.InitialDelaySeconds)*time.Second {
		return false, false
	}
	if !st.lastRun.IsZero() && now.Sub(st.lastRun) < time.Duration(p.PeriodSeconds)*time.Second {
		return false, false
	}
	st.lastRun = now
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := a.check(pctx, p, in, podIP, timeout)
	if err == nil {
		st.successes++
		st.failures = 0
		return true, true
	}
	st.failures++
	st.successes = 0
	return false, true
}

func (a *Agent) check(ctx context.Context, p *skiffv1.Probe, in *instance, podIP string, timeout time.Duration) error {
	sb, err := a.runtime.Sandbox(in.podUID)
	if err != nil {
		return err
	}
	netns := sb.NetNS
	switch {
	case p.Exec != nil:
		// stdout and stderr are copied by two goroutines into one buffer.
		out := &lockedBuffer{}
		code, err := a.runtime.Exec(ctx, in.state.ID, runtime.ExecSpec{Command: p.Exec.Command, Stdout: out, Stderr: out})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("exit code %d: %s", code, bytes.TrimSpace(out.bytes()))
		}
		return nil
	case p.TcpSocket != nil:
		conn, err := dialInNetNS(ctx, netns, "tcp", net.JoinHostPort(podIP, strconv.Itoa(int(p.TcpSocket.Port))))
		if err != nil {
			return err
		}
		return conn.Close()
	case p.HttpGet != nil:
		return httpGet(ctx, netns, podIP, p.HttpGet, timeout)
	case p.Grpc != nil:
		return grpcHealthCheck(ctx, netns, podIP, p.Grpc)
	}
	return fmt.Errorf("probe has no handler")
}

// lockedBuffer is a bytes.Buffer several goroutines may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
