package nodeagent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A sidecar's life on the fake runtime: its startup probe holds the next
// init container back, its readiness holds the pod's, it is restarted
// under restartPolicy Never, and it is stopped once the container is done.
func TestSyncSidecar(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	always := "Always"
	proxy := ctr("proxy")
	proxy.RestartPolicy = &always
	proxy.StartupProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"started"}}, FailureThreshold: 100}
	proxy.ReadinessProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"ready"}}, SuccessThreshold: 1, FailureThreshold: 1}
	p := h.podWith("sidecar", "Never", &skiffv1.PodSpec{
		InitContainers: []*skiffv1.Container{proxy, ctr("setup")},
		Containers:     []*skiffv1.Container{ctr("app")},
	})
	id := func(name string, attempt int) string { return runtime.ContainerID(p.Metadata.Uid, name, attempt) }
	h.rt.setExecCode("started", 1)
	h.rt.setExecCode("ready", 1)
	st := newPodState()
	probeNow := func() { // as if the probes' period had passed
		cs := st.container("proxy")
		cs.startup.lastRun, cs.readiness.lastRun = time.Time{}, time.Time{}
	}

	h.sync(p, st) // starts the sidecar
	h.sync(p, st) // its startup probe fails: the next waits
	h.wantContainers(id("proxy", 0))
	s := h.status(p)
	init := condition(s, skiffv1.PodInitialized)
	if init.GetStatus() != skiffv1.ConditionFalse || !strings.Contains(init.GetMessage(), "proxy") || s.GetPhase() != skiffv1.PodPending {
		t.Fatalf("status %v: want Pending, not Initialized for the proxy", s)
	}
	if ic := s.GetInitContainerStatuses()[0]; ic.GetState().GetRunning() == nil || ic.GetStarted() {
		t.Fatalf("sidecar status %v: want running, not started", ic)
	}

	h.rt.setExecCode("started", 0)
	probeNow()
	h.sync(p, st) // started: the next init container goes in the same sync
	h.wantContainers(id("proxy", 0), id("setup", 0))
	h.rt.exit(id("setup", 0), 0)
	h.sync(p, st)
	h.wantContainers(id("app", 0), id("proxy", 0), id("setup", 0))
	s = h.status(p)
	if condition(s, skiffv1.PodInitialized).GetStatus() != skiffv1.ConditionTrue || s.GetPhase() != skiffv1.PodRunning {
		t.Fatalf("status %v: want Running and Initialized", s)
	}
	if condition(s, skiffv1.PodReady).GetStatus() != skiffv1.ConditionFalse {
		t.Fatalf("Ready %v: want False while the sidecar is not ready", condition(s, skiffv1.PodReady))
	}
	h.rt.setExecCode("ready", 0)
	probeNow()
	h.sync(p, st)
	s = h.status(p)
	if ic := s.GetInitContainerStatuses()[0]; !ic.GetStarted() || !ic.GetReady() || condition(s, skiffv1.PodReady).GetStatus() != skiffv1.ConditionTrue {
		t.Fatalf("status %v: want the sidecar started and ready, the pod Ready", s)
	}

	// It exits: started again, though the pod's policy is Never.
	h.rt.exit(id("proxy", 0), 0)
	st.steady = false
	h.rt.age(id("proxy", 0), time.Hour)
	st.container("proxy").notBefore = time.Now().Add(-time.Minute)
	h.sync(p, st)
	if c, ok := h.rt.state(id("proxy", 1)); !ok || c.Status != runtime.StatusRunning {
		t.Fatalf("sidecar attempt 1: %+v, want running", c)
	}

	// The container is done: the sidecar is stopped, the pod succeeds,
	// and nothing starts again.
	h.rt.exit(id("app", 0), 0)
	st.steady = false
	h.sync(p, st)
	if !slices.Contains(h.rt.stopped, id("proxy", 1)) {
		t.Fatalf("stopped %v: want the sidecar stopped", h.rt.stopped)
	}
	if s = h.status(p); s.GetPhase() != skiffv1.PodSucceeded {
		t.Fatalf("status %v: want Succeeded", s)
	}
	h.sync(p, st)
	if _, ok := h.rt.state(id("proxy", 2)); ok {
		t.Fatal("the sidecar was started again after the pod finished")
	}
}

// An init container that fails for good (restartPolicy Never) fails the
// pod, and the sidecar started before it is stopped: the pod does not
// stay Running on its account.
func TestSyncSidecarStoppedWhenInitFails(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	always := "Always"
	proxy := ctr("proxy")
	proxy.RestartPolicy = &always
	p := h.podWith("init-fails", "Never", &skiffv1.PodSpec{
		InitContainers: []*skiffv1.Container{proxy, ctr("setup")},
		Containers:     []*skiffv1.Container{ctr("app")},
	})
	id := func(name string, attempt int) string { return runtime.ContainerID(p.Metadata.Uid, name, attempt) }
	st := newPodState()
	h.sync(p, st)
	h.wantContainers(id("proxy", 0), id("setup", 0))
	h.rt.exit(id("setup", 0), 2)
	h.sync(p, st)
	if !slices.Contains(h.rt.stopped, id("proxy", 0)) {
		t.Fatalf("stopped %v: want the sidecar stopped", h.rt.stopped)
	}
	if s := h.status(p); s.GetPhase() != skiffv1.PodFailed {
		t.Fatalf("status %v: want Failed", s)
	}
}

// A new agent (a fresh pod state) finds the pod's container and sidecar
// running: the pod was initialized, and the sidecar is kept, restarted
// when it exits.
func TestSyncSidecarAfterAgentRestart(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	always := "Always"
	proxy := ctr("proxy")
	proxy.RestartPolicy = &always
	p := h.podWith("restarted", "Always", &skiffv1.PodSpec{
		InitContainers: []*skiffv1.Container{proxy, ctr("setup")},
		Containers:     []*skiffv1.Container{ctr("app")},
	})
	id := func(name string, attempt int) string { return runtime.ContainerID(p.Metadata.Uid, name, attempt) }
	st := newPodState()
	h.sync(p, st)
	h.rt.exit(id("setup", 0), 0)
	h.sync(p, st)
	h.wantContainers(id("app", 0), id("proxy", 0), id("setup", 0))

	st = newPodState() // the agent restarted
	h.rt.exit(id("proxy", 0), 1)
	h.rt.age(id("proxy", 0), 2*time.Hour) // its back-off (an hour) is over
	h.sync(p, st)
	if c, ok := h.rt.state(id("proxy", 1)); !ok || c.Status != runtime.StatusRunning {
		t.Fatalf("sidecar attempt 1: %+v, want running", c)
	}
	if _, ok := h.rt.state(id("setup", 1)); ok {
		t.Fatal("the init container ran again after an agent restart")
	}
	if s := h.status(p); condition(s, skiffv1.PodInitialized).GetStatus() != skiffv1.ConditionTrue || s.GetPhase() != skiffv1.PodRunning {
		t.Fatalf("status %v: want Running and Initialized", s)
	}
}
