package nodeagent

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The agent's decisions for a pod's life — init containers in order, hooks,
// the startup probe's gate, the termination message, the active deadline —
// on the fake runtime (see sync_test.go).

// podWith creates a pod bound to the node from spec, with the node's name
// and restart policy set.
func (h *syncHarness) podWith(name, restartPolicy string, spec *skiffv1.PodSpec) *skiffv1.Pod {
	h.t.Helper()
	spec.NodeName, spec.RestartPolicy = "n1", restartPolicy
	p, err := h.c.Pods().Create(h.ctx(), &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func ctr(name string) *skiffv1.Container {
	return &skiffv1.Container{Name: name, Image: "busybox", Command: []string{"/bin/" + name}}
}

func condition(s *skiffv1.PodStatus, typ string) *skiffv1.Condition {
	for _, c := range s.GetConditions() {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

// Init containers run one at a time, in order, before the containers; a
// failing one waits out its back-off and runs again (Init:CrashLoopBackOff),
// and once all succeeded none runs again, even when the app restarts.
func TestSyncInitContainersInOrder(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.podWith("init", "Always", &skiffv1.PodSpec{
		InitContainers: []*skiffv1.Container{ctr("first"), ctr("second")},
		Containers:     []*skiffv1.Container{ctr("app")},
	})
	uid := p.Metadata.Uid
	id := func(name string, attempt int) string { return runtime.ContainerID(uid, name, attempt) }
	st := newPodState()
	h.sync(p, st)
	h.wantContainers(id("first", 0))
	s := h.status(p)
	if s.GetPhase() != skiffv1.PodPending || condition(s, skiffv1.PodInitialized).GetStatus() != skiffv1.ConditionFalse {
		t.Fatalf("status %v: want Pending, not Initialized", s)
	}
	if w := s.GetContainerStatuses()[0].GetState().GetWaiting(); w.GetReason() != "PodInitializing" {
		t.Fatalf("app state %v: want waiting PodInitializing", w)
	}
	if got := s.GetInitContainerStatuses(); len(got) != 2 || got[0].GetState().GetRunning() == nil || got[1].GetState().GetWaiting().GetReason() != "PodInitializing" {
		t.Fatalf("init statuses %v: want first running, second waiting", got)
	}

	h.rt.exit(id("first", 0), 0)
	h.sync(p, st)
	h.wantContainers(id("first", 0), id("second", 0))

	// The second fails: back-off, then it runs again; the app waits.
	h.rt.exit(id("second", 0), 1)
	h.sync(p, st)
	h.wantContainers(id("first", 0), id("second", 0))
	s = h.status(p)
	if got := s.GetInitContainerStatuses()[1].GetState().GetWaiting().GetReason(); got != "CrashLoopBackOff" || s.GetPhase() != skiffv1.PodPending {
		t.Fatalf("status %v: want Pending with the second init container in CrashLoopBackOff", s)
	}
	h.rt.age(id("second", 0), time.Hour)
	st.container("second").notBefore = time.Now().Add(-time.Minute)
	h.sync(p, st)
	h.wantContainers(id("first", 0), id("second", 0), id("second", 1))

	h.rt.exit(id("second", 1), 0)
	h.sync(p, st)
	h.wantContainers(id("app", 0), id("first", 0), id("second", 0), id("second", 1))
	s = h.status(p)
	if s.GetPhase() != skiffv1.PodRunning || condition(s, skiffv1.PodInitialized).GetStatus() != skiffv1.ConditionTrue {
		t.Fatalf("status %v: want Running and Initialized", s)
	}
	if ic := s.GetInitContainerStatuses(); !ic[0].GetReady() || !ic[1].GetReady() || ic[1].GetRestartCount() != 1 || ic[1].GetState().GetTerminated().GetReason() != "Completed" {
		t.Fatalf("init statuses %v: want both completed and ready, the second restarted once", ic)
	}

	// The app crashes and restarts; the init containers stay done.
	h.rt.exit(id("app", 0), 1)
	st.steady = false
	h.backoffOver(st, id("app", 0))
	h.sync(p, st)
	h.wantContainers(id("app", 0), id("app", 1), id("first", 0), id("second", 0), id("second", 1))
}

// restartPolicy Never: a failed init container fails the pod, and the
// containers never start.
func TestSyncInitContainerFailureFailsPodUnderNever(t *testing.T) {
	h := newSyncHarness(t, 0)
	p := h.podWith("init-never", "Never", &skiffv1.PodSpec{
		InitContainers: []*skiffv1.Container{ctr("setup")},
		Containers:     []*skiffv1.Container{ctr("app")},
	})
	uid := p.Metadata.Uid
	st := newPodState()
	h.sync(p, st)
	h.rt.exit(runtime.ContainerID(uid, "setup", 0), 2)
	h.sync(p, st)
	h.sync(p, st)
	h.wantContainers(runtime.ContainerID(uid, "setup", 0))
	s := h.status(p)
	if s.GetPhase() != skiffv1.PodFailed || s.GetInitContainerStatuses()[0].GetState().GetTerminated().GetExitCode() != 2 {
		t.Fatalf("status %v: want Failed with the init container's exit code 2", s)
	}
}

// preStop runs before the SIGTERM of a deleted pod's container.
func TestSyncPreStopBeforeStop(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	app := ctr("app")
	app.Lifecycle = &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"drain", "now"}}}}
	p := h.podWith("hooked", "Always", &skiffv1.PodSpec{Containers: []*skiffv1.Container{app}})
	id := runtime.ContainerID(p.Metadata.Uid, "app", 0)
	st := newPodState()
	h.sync(p, st)
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "hooked", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !h.sync(p, st) {
		t.Fatal("the deleted pod's worker is not done")
	}
	calls := h.rt.callLog()
	hook, stop := slices.Index(calls, "exec "+id+" drain now"), slices.Index(calls, "stop "+id)
	if hook < 0 || stop < 0 || hook > stop {
		t.Fatalf("calls %q: want the preStop exec before the stop", calls)
	}
}

// A failing postStart hook kills the container, and the restart policy
// takes over; a succeeding one leaves it running.
func TestSyncPostStartFailureKillsContainer(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	app := ctr("app")
	app.Lifecycle = &skiffv1.Lifecycle{PostStart: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"warmup"}}}}
	p := h.podWith("poststart", "Always", &skiffv1.PodSpec{Containers: []*skiffv1.Container{app}})
	id := runtime.ContainerID(p.Metadata.Uid, "app", 0)
	h.rt.setExecCode("warmup", 1)
	st := newPodState()
	h.sync(p, st)
	if c, _ := h.rt.state(id); c.Status != runtime.StatusExited || !slices.Contains(h.rt.callLog(), "exec "+id+" warmup") {
		t.Fatalf("container %+v (calls %q): want the hook run and the container stopped", c, h.rt.callLog())
	}
	h.sync(p, st)
	cs := h.status(p).GetContainerStatuses()[0]
	if cs.GetState().GetWaiting().GetReason() != "CrashLoopBackOff" || !strings.Contains(cs.GetLastState().GetTerminated().GetMessage(), "PostStartHook failed") {
		t.Fatalf("status %v: want CrashLoopBackOff after a PostStartHook failure", cs)
	}

	h.rt.setExecCode("warmup", 0)
	h.backoffOver(st, id)
	h.sync(p, st)
	if c, _ := h.rt.state(runtime.ContainerID(p.Metadata.Uid, "app", 1)); c.Status != runtime.StatusRunning {
		t.Fatalf("container %+v: want running after a good hook", c)
	}
}

// Until the startup probe succeeds the container is not started nor
// ready, and the liveness probe does not run; past its failure threshold
// it restarts the container.
func TestSyncStartupProbeGates(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	app := ctr("app")
	app.StartupProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"started"}}, FailureThreshold: 2}
	app.LivenessProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"alive"}}}
	p := h.podWith("startup", "Always", &skiffv1.PodSpec{Containers: []*skiffv1.Container{app}})
	id := runtime.ContainerID(p.Metadata.Uid, "app", 0)
	h.rt.setExecCode("started", 1)
	st := newPodState()
	probeNow := func() { // as if the probes' period had passed
		cs := st.container("app")
		cs.startup.lastRun, cs.liveness.lastRun = time.Time{}, time.Time{}
	}
	h.sync(p, st) // starts it
	h.sync(p, st) // first startup probe: fails
	cs := h.status(p).GetContainerStatuses()[0]
	if cs.GetStarted() || cs.GetReady() || cs.GetState().GetRunning() == nil {
		t.Fatalf("status %v: want running, neither started nor ready", cs)
	}
	for _, c := range h.rt.callLog() {
		if strings.HasSuffix(c, " alive") {
			t.Fatalf("the liveness probe ran before the startup probe passed: %q", h.rt.callLog())
		}
	}
	h.rt.setExecCode("started", 0)
	probeNow()
	h.sync(p, st)
	cs = h.status(p).GetContainerStatuses()[0]
	if !cs.GetStarted() || !cs.GetReady() || !slices.Contains(h.rt.callLog(), "exec "+id+" alive") {
		t.Fatalf("status %v (calls %q): want started and ready, the liveness probe run", cs, h.rt.callLog())
	}

	// A new instance whose startup probe keeps failing is restarted.
	h.rt.exit(id, 1)
	st.steady = false // as its exit would wake the worker
	h.backoffOver(st, id)
	h.rt.setExecCode("started", 1)
	h.sync(p, st)
	id1 := runtime.ContainerID(p.Metadata.Uid, "app", 1)
	for range 2 {
		probeNow()
		h.sync(p, st)
	}
	if c, _ := h.rt.state(id1); c.Status != runtime.StatusExited || !slices.Contains(h.rt.stopped, id1) {
		t.Fatalf("container %+v: want stopped after two startup probe failures", c)
	}
}

// What the container wrote to its termination-log file becomes its
// terminated state's message.
func TestSyncTerminationMessage(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.podWith("msg", "Never", &skiffv1.PodSpec{Containers: []*skiffv1.Container{ctr("app")}})
	uid := p.Metadata.Uid
	st := newPodState()
	h.sync(p, st)
	file := h.a.terminationLogFile(uid, "app", 0)
	if err := os.WriteFile(file, []byte("disk full\n"+strings.Repeat("x", 5000)), 0o644); err != nil {
		t.Fatalf("the termination-log file was not made: %v", err)
	}
	h.rt.exit(runtime.ContainerID(uid, "app", 0), 1)
	h.sync(p, st)
	msg := h.status(p).GetContainerStatuses()[0].GetState().GetTerminated().GetMessage()
	if !strings.HasPrefix(msg, "disk full\n") || len(msg) != maxTerminationMessage {
		t.Fatalf("message %q… (%d bytes): want the file's first %d bytes", msg[:min(len(msg), 20)], len(msg), maxTerminationMessage)
	}
}

// Past activeDeadlineSeconds the pod's containers are stopped and the pod
// fails with DeadlineExceeded; nothing of it starts again.
func TestSyncActiveDeadline(t *testing.T) {
	h := newSyncHarness(t, 0)
	deadline := int64(30)
	p := h.podWith("deadline", "Always", &skiffv1.PodSpec{ActiveDeadlineSeconds: &deadline, Containers: []*skiffv1.Container{ctr("app")}})
	id := runtime.ContainerID(p.Metadata.Uid, "app", 0)
	st := newPodState()
	h.sync(p, st)
	h.sync(p, st)
	if c, _ := h.rt.state(id); c.Status != runtime.StatusRunning {
		t.Fatalf("container %+v: want running before the deadline", c)
	}
	// Started an hour ago.
	cur, err := h.c.Pods().Get(h.ctx(), "default", "deadline")
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.StartTime = timestamppb.New(time.Now().Add(-time.Hour))
	if _, err := h.c.Pods().UpdateStatus(h.ctx(), cur); err != nil {
		t.Fatal(err)
	}
	h.sync(p, st)
	h.sync(p, st)
	h.wantContainers(id)
	if c, _ := h.rt.state(id); c.Status != runtime.StatusExited {
		t.Fatalf("container %+v: want stopped past the deadline", c)
	}
	s := h.status(p)
	if s.GetPhase() != skiffv1.PodFailed || s.GetReason() != "DeadlineExceeded" {
		t.Fatalf("status %v: want Failed, DeadlineExceeded", s)
	}
}
