package nodeagent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// probe runs a running container's liveness and readiness probes when they
// are due. A liveness failure past its threshold stops the container, and
// the restart policy takes it from there; stopped reports that.
func (a *Agent) probe(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, in *instance, cs *containerState, podIP string) (stopped bool) {
	if cs.probeAttempt != in.attempt {
		cs.probeAttempt = in.attempt
		cs.liveness, cs.readiness, cs.ready = probeState{}, probeState{}, false
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
	cs.killedBy = "Liveness probe failed"
	a.event(ctx, pod, "Warning", "Unhealthy", fmt.Sprintf("Liveness probe failed %d times; restarting container %s", cs.liveness.failures, c.Name))
	grace := time.Duration(pod.Spec.GetTerminationGracePeriodSeconds()) * time.Second
	if err := a.runtime.Stop(ctx, in.state.ID, syscall.SIGTERM, grace); err != nil {
		a.log.Warn("stop after liveness failure", "container", in.state.ID, "err", err)
	}
	return true
}

// runProbe runs p if its period has passed since the last run (and the
// initial delay since the start). ran is false when it was not due.
func (a *Agent) runProbe(ctx context.Context, p *skiffv1.Probe, st *probeState, in *instance, podIP string) (ok, ran bool) {
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
		url := fmt.Sprintf("http://%s%s", net.JoinHostPort(podIP, strconv.Itoa(int(p.HttpGet.Port))), p.HttpGet.Path)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		hc := &http.Client{Timeout: timeout, Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialInNetNS(ctx, netns, network, addr)
			},
		}}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
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
