package nodeagent_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Sidecar containers (init containers with restartPolicy Always) on a
// real node: started in init order, kept running beside the containers,
// stopped after them.

func (h *harness) sidecar(name, script string) *skiffv1.Container {
	c := h.shContainer(name, script)
	always := "Always"
	c.RestartPolicy = &always
	return c
}

func condition(p *skiffv1.Pod, typ string) string {
	return skiffv1.FindCondition(p.GetStatus().GetConditions(), typ).GetStatus()
}

// A sidecar serving on localhost starts (its startup probe passes) before
// the next init container and the container, which reach it; it keeps
// running beside them and counts for the pod's readiness.
func TestSidecarRunsBesideContainers(t *testing.T) {
	h := newHarness(t)
	// restartPolicy Never: a container that could not reach the sidecar
	// would fail the pod instead of being retried.
	p := h.pod("sidecar", `wget -qO- http://127.0.0.1:8080/hello > /work/got && sleep 1000`)
	p.Spec.RestartPolicy = "Never"
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "work", EmptyDir: &skiffv1.EmptyDirSource{}}}
	mount := []*skiffv1.VolumeMount{{Name: "work", MountPath: "/work"}}
	p.Spec.Containers[0].VolumeMounts = mount
	proxy := h.sidecar("proxy", `mkdir -p /work/www && echo hi > /work/www/hello && exec httpd -f -p 127.0.0.1:8080 -h /work/www`)
	proxy.VolumeMounts = mount
	proxy.StartupProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"wget", "-qO-", "http://127.0.0.1:8080/hello"}}, PeriodSeconds: 1, TimeoutSeconds: 5, FailureThreshold: 30}
	proxy.ReadinessProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"test", "-f", "/work/got"}}, PeriodSeconds: 1, TimeoutSeconds: 5}
	check := h.shContainer("check", `wget -qO- http://127.0.0.1:8080/hello > /work/init`)
	check.VolumeMounts = mount
	p.Spec.InitContainers = []*skiffv1.Container{proxy, check}
	created := h.create(p)
	got := h.waitPod("sidecar", "ready", ready)
	if got.Status.Phase != "Running" || condition(got, skiffv1.PodInitialized) != "True" {
		t.Fatalf("status %v: want Running and Initialized", got.Status)
	}
	side, init := got.Status.InitContainerStatuses[0], got.Status.InitContainerStatuses[1]
	if side.State.GetRunning() == nil || !side.Started || !side.Ready || side.RestartCount != 0 {
		t.Errorf("sidecar status %v: want running, started and ready", side)
	}
	if init.State.GetTerminated().GetReason() != "Completed" {
		t.Errorf("init container status %v: want completed after the sidecar started", init)
	}
	dir := filepath.Join(h.cfg.DataDir, "pods", created.Metadata.Uid, "volumes", "work")
	for _, f := range []string{"init", "got"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != "hi\n" {
			t.Errorf("%s: %q, %v; want what the sidecar served", f, b, err)
		}
	}
}

// A sidecar that exits is started again while the container runs, even
// under restartPolicy Never.
func TestSidecarRestarts(t *testing.T) {
	h := newHarness(t)
	p := h.pod("sidecar-restart", `sleep 1000`)
	p.Spec.RestartPolicy = "Never"
	p.Spec.InitContainers = []*skiffv1.Container{h.sidecar("flaky", `sleep 1; exit 3`)}
	h.create(p)
	got := h.waitPod("sidecar-restart", "with its sidecar restarted", func(p *skiffv1.Pod) bool {
		ic := p.GetStatus().GetInitContainerStatuses()
		return len(ic) == 1 && ic[0].RestartCount >= 2
	})
	if c := container(got); got.Status.Phase != "Running" || c.GetState().GetRunning() == nil || c.RestartCount != 0 {
		t.Fatalf("pod %v: want Running, its container untouched", got.Status)
	}
	if last := got.Status.InitContainerStatuses[0].LastState.GetTerminated(); last.GetExitCode() != 3 {
		t.Fatalf("sidecar last state %v: want its exit 3", last)
	}
}

// A Job's pod (restartPolicy Never) succeeds once its container did: the
// sidecar does not keep it running, it is stopped.
func TestSidecarJobCompletes(t *testing.T) {
	h := newHarness(t)
	p := h.pod("sidecar-job", `sleep 1; exit 0`)
	p.Spec.RestartPolicy = "Never"
	p.Spec.TerminationGracePeriodSeconds = int64p(10)
	p.Spec.InitContainers = []*skiffv1.Container{h.sidecar("logger", `trap 'exit 0' TERM; while true; do sleep 0.1; done`)}
	h.create(p)
	got := h.waitPod("sidecar-job", "Succeeded", phase("Succeeded"))
	if c := container(got); c.GetState().GetTerminated().GetReason() != "Completed" {
		t.Errorf("container %v: want Completed", c)
	}
	if s := got.Status.InitContainerStatuses[0]; s.State.GetTerminated() == nil || s.RestartCount != 0 {
		t.Errorf("sidecar %v: want stopped, not restarted", s)
	}
	time.Sleep(time.Second)
	if p, err := h.c.Pods().Get(h.ctx(), "default", "sidecar-job"); err != nil || p.Status.InitContainerStatuses[0].State.GetTerminated() == nil {
		t.Errorf("sidecar a second later: %v, %v; want still stopped", p.GetStatus().GetInitContainerStatuses(), err)
	}
}

// Deleting the pod stops its container first (preStop, then SIGTERM),
// then its sidecars in reverse order of declaration.
func TestSidecarsStopAfterContainers(t *testing.T) {
	h := newHarness(t)
	out := t.TempDir()
	mount := []*skiffv1.VolumeMount{{Name: "out", MountPath: "/out"}}
	// Each records its SIGTERM, a moment after it came: a sidecar stopped
	// at the same time as the container would show up before it.
	trap := func(name string) string {
		return `trap 'sleep 0.5; echo ` + name + ` >> /out/log; exit 0' TERM; while true; do sleep 0.1; done`
	}
	p := h.pod("sidecar-stop", trap("app"))
	p.Spec.TerminationGracePeriodSeconds = int64p(20)
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "out", HostPath: &skiffv1.HostPathSource{Path: out}}}
	p.Spec.Containers[0].VolumeMounts = mount
	p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"sh", "-c", "echo app-prestop >> /out/log"}}}}
	first, second := h.sidecar("first", trap("first")), h.sidecar("second", trap("second"))
	second.Lifecycle = &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"sh", "-c", "echo second-prestop >> /out/log"}}}}
	first.VolumeMounts, second.VolumeMounts = mount, mount
	p.Spec.InitContainers = []*skiffv1.Container{first, second}
	h.create(p)
	h.waitPod("sidecar-stop", "ready", ready)
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "sidecar-stop", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitGone("sidecar-stop")
	b, _ := os.ReadFile(filepath.Join(out, "log"))
	if want := "app-prestop\napp\nsecond-prestop\nsecond\nfirst\n"; string(b) != want {
		t.Fatalf("log %q: want %q (the container, then the sidecars last to first)", b, want)
	}
}
