package nodeagent_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The pod lifecycle on a real node: init containers, hooks, the startup
// probe, termination messages and the active deadline, with busybox
// containers.

func (h *harness) shContainer(name, script string) *skiffv1.Container {
	return &skiffv1.Container{Name: name, Image: h.image, Command: []string{"sh", "-c", script}}
}

func int64p(v int64) *int64 { return &v }

// Init containers run one after the other, to completion, with their env
// and volumes, before the container starts.
func TestInitContainersRunInOrder(t *testing.T) {
	h := newHarness(t)
	p := h.pod("init", `echo main >> /work/log; sleep 1000`)
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "work", EmptyDir: &skiffv1.EmptyDirSource{}}}
	mount := []*skiffv1.VolumeMount{{Name: "work", MountPath: "/work"}}
	p.Spec.Containers[0].VolumeMounts = mount
	p.Spec.Containers[0].StartupProbe = &skiffv1.Probe{Exec: &skiffv1.ExecAction{Command: []string{"test", "-f", "/work/log"}}, PeriodSeconds: 1, TimeoutSeconds: 10}
	p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{PostStart: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"sh", "-c", "echo postStart >> /work/log"}}}}
	first := h.shContainer("first", `sleep 1; echo "first $WHO" >> /work/log`)
	first.Env = []*skiffv1.EnvVar{{Name: "WHO", Value: "from-env"}}
	second := h.shContainer("second", `test -s /work/log && echo second >> /work/log`)
	first.VolumeMounts, second.VolumeMounts = mount, mount
	p.Spec.InitContainers = []*skiffv1.Container{first, second}
	created := h.create(p)
	got := h.waitPod("init", "running after its init containers", func(p *skiffv1.Pod) bool {
		return p.GetStatus().GetPhase() == "Running" && container(p).GetState().GetRunning() != nil
	})
	for _, s := range got.Status.InitContainerStatuses {
		if !s.Ready || s.State.GetTerminated().GetReason() != "Completed" || s.RestartCount != 0 {
			t.Errorf("init container status %v: want completed once", s)
		}
	}
	log := filepath.Join(h.cfg.DataDir, "pods", created.Metadata.Uid, "volumes", "work", "log")
	deadline := time.Now().Add(30 * time.Second)
	var b []byte
	for time.Now().Before(deadline) {
		b, _ = os.ReadFile(log)
		if strings.Contains(string(b), "main") && strings.Contains(string(b), "postStart") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := string(b); got != "first from-env\nsecond\nmain\npostStart\n" && got != "first from-env\nsecond\npostStart\nmain\n" {
		t.Fatalf("log %q: want the init containers in order, then the container", b)
	}
}

// A failing init container under restartPolicy Never fails the pod and
// the container never starts; under OnFailure it is retried.
func TestInitContainerFailure(t *testing.T) {
	h := newHarness(t)
	never := h.pod("init-never", `sleep 1000`)
	never.Spec.RestartPolicy = "Never"
	never.Spec.InitContainers = []*skiffv1.Container{h.shContainer("setup", "exit 7")}
	h.create(never)
	retry := h.pod("init-retry", `sleep 1000`)
	retry.Spec.RestartPolicy = "OnFailure"
	retry.Spec.InitContainers = []*skiffv1.Container{h.shContainer("setup", "exit 7")}
	h.create(retry)
	p := h.waitPod("init-never", "Failed", phase("Failed"))
	if s := p.Status.InitContainerStatuses[0]; s.State.GetTerminated().GetExitCode() != 7 {
		t.Fatalf("init container %v: want exit code 7", s)
	}
	if c := container(p); c.GetState().GetWaiting().GetReason() != "PodInitializing" {
		t.Fatalf("container %v: want never started (PodInitializing)", c)
	}
	h.waitPod("init-retry", "retried", func(p *skiffv1.Pod) bool {
		ic := p.GetStatus().GetInitContainerStatuses()
		return len(ic) == 1 && ic[0].RestartCount >= 1 && p.Status.Phase == "Pending"
	})
}

// postStart runs once the container started; preStop runs before its
// SIGTERM when the pod is deleted, and an httpGet hook reaches the pod
// with its headers.
func TestLifecycleHooks(t *testing.T) {
	h := newHarness(t)
	out := t.TempDir()
	p := h.pod("hooks", `trap 'echo term >> /out/log; exit 0' TERM; while true; do sleep 0.1; done`)
	p.Spec.TerminationGracePeriodSeconds = int64p(5)
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "out", HostPath: &skiffv1.HostPathSource{Path: out}}}
	mount := []*skiffv1.VolumeMount{{Name: "out", MountPath: "/out"}}
	main := p.Spec.Containers[0]
	main.VolumeMounts = mount
	main.Lifecycle = &skiffv1.Lifecycle{
		PostStart: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"sh", "-c", "echo poststart >> /out/log"}}},
		PreStop:   &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"sh", "-c", "echo prestop >> /out/log"}}},
	}
	// busybox httpd with a CGI script that writes down each request.
	cgi := filepath.Join(out, "www", "cgi-bin")
	if err := os.MkdirAll(cgi, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$REQUEST_METHOD $REQUEST_URI $HTTP_X_SKIFF_TEST\" >> /out/requests\necho 'Content-Type: text/plain'\necho\necho ok\n"
	if err := os.WriteFile(filepath.Join(cgi, "drain"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	web := h.shContainer("web", `exec httpd -f -p 8080 -h /out/www`)
	web.VolumeMounts = mount
	web.ReadinessProbe = &skiffv1.Probe{TcpSocket: &skiffv1.TCPSocketAction{Port: 8080}, PeriodSeconds: 1}
	web.Lifecycle = &skiffv1.Lifecycle{PreStop: &skiffv1.LifecycleHandler{HttpGet: &skiffv1.HTTPGetAction{
		Path: "/cgi-bin/drain", Port: 8080, HttpHeaders: []*skiffv1.HTTPHeader{{Name: "X-Skiff-Test", Value: "yes"}}}}}
	p.Spec.Containers = append(p.Spec.Containers, web)
	h.create(p)
	h.waitPod("hooks", "ready", ready)
	if b, _ := os.ReadFile(filepath.Join(out, "log")); string(b) != "poststart\n" {
		t.Fatalf("log %q before deletion: want the postStart hook's line", b)
	}
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "hooks", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitGone("hooks")
	b, _ := os.ReadFile(filepath.Join(out, "log"))
	if string(b) != "poststart\nprestop\nterm\n" {
		t.Fatalf("log %q: want postStart, then preStop before SIGTERM", b)
	}
	req, _ := os.ReadFile(filepath.Join(out, "requests"))
	if string(req) != "GET /cgi-bin/drain yes\n" {
		t.Fatalf("requests the pod got: %q; want the preStop GET with its header", req)
	}
}

// A failing postStart hook kills the container and the restart policy
// takes over.
func TestPostStartFailureRestarts(t *testing.T) {
	h := newHarness(t)
	p := h.pod("badhook", `sleep 1000`)
	p.Spec.TerminationGracePeriodSeconds = int64p(1)
	p.Spec.Containers[0].Lifecycle = &skiffv1.Lifecycle{PostStart: &skiffv1.LifecycleHandler{Exec: &skiffv1.ExecAction{Command: []string{"false"}}}}
	h.create(p)
	got := h.waitPod("badhook", "restarted after its failed hook", func(p *skiffv1.Pod) bool {
		return container(p).GetRestartCount() >= 1
	})
	if msg := container(got).GetLastState().GetTerminated().GetMessage(); !strings.Contains(msg, "PostStartHook failed") {
		t.Fatalf("last state %v: want the hook's failure", container(got).GetLastState())
	}
}

// The startup probe holds the liveness probe back: a slow starter whose
// liveness probe would fail at first is not restarted. One that never
// starts is. (Exec probes get 10 s: under the race detector an exec takes
// seconds.)
func TestStartupProbeGatesLiveness(t *testing.T) {
	h := newHarness(t)
	started := &skiffv1.ExecAction{Command: []string{"test", "-f", "/tmp/started"}}
	slow := h.pod("slow", `sleep 3; touch /tmp/started; sleep 1000`)
	slow.Spec.Containers[0].StartupProbe = &skiffv1.Probe{Exec: started, PeriodSeconds: 1, TimeoutSeconds: 10, FailureThreshold: 60}
	slow.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{Exec: started, PeriodSeconds: 1, TimeoutSeconds: 10, FailureThreshold: 1}
	h.create(slow)
	never := h.pod("never-starts", `sleep 1000`)
	never.Spec.TerminationGracePeriodSeconds = int64p(1)
	never.Spec.Containers[0].StartupProbe = &skiffv1.Probe{Exec: started, PeriodSeconds: 1, TimeoutSeconds: 10, FailureThreshold: 2}
	h.create(never)

	got := h.waitPod("slow", "started and ready", func(p *skiffv1.Pod) bool {
		c := container(p)
		return c.GetStarted() && c.GetReady()
	})
	if n := container(got).GetRestartCount(); n != 0 {
		t.Fatalf("restart count %d: the liveness probe ran before the startup probe passed", n)
	}
	got = h.waitPod("never-starts", "restarted by its startup probe", func(p *skiffv1.Pod) bool {
		return container(p).GetRestartCount() >= 1
	})
	if c := container(got); c.GetStarted() || !strings.Contains(c.GetLastState().GetTerminated().GetMessage(), "Startup probe failed") {
		t.Fatalf("container %v: want not started, killed by its startup probe", c)
	}
}

// What a container writes to /dev/termination-log (or its own path) is
// its terminated state's message; FallbackToLogsOnError takes the log's
// tail when it wrote none.
func TestTerminationMessage(t *testing.T) {
	h := newHarness(t)
	p := h.pod("why", `echo "config missing" > /dev/termination-log; exit 3`)
	p.Spec.RestartPolicy = "Never"
	custom := h.shContainer("custom", `echo "custom path" > /tmp/why; exit 0`)
	custom.TerminationMessagePath = "/tmp/why"
	logs := h.shContainer("logs", `echo "last words"; exit 4`)
	logs.TerminationMessagePolicy = "FallbackToLogsOnError"
	p.Spec.Containers = append(p.Spec.Containers, custom, logs)
	h.create(p)
	got := h.waitPod("why", "Failed", phase("Failed"))
	want := map[string]string{"main": "config missing\n", "custom": "custom path\n", "logs": "last words\n"}
	for _, s := range got.Status.ContainerStatuses {
		if msg := s.GetState().GetTerminated().GetMessage(); msg != want[s.Name] {
			t.Errorf("container %s: message %q, want %q", s.Name, msg, want[s.Name])
		}
	}
}

// A container that writes without end into its termination log, or into
// /etc/hosts (read-write, as on any Kubernetes node), fills a small tmpfs
// of its pod's own, not the run directory the other pods and the node's
// addresses live in; its message is still the first 4 KiB. Deleting the
// pod detaches that tmpfs.
func TestPodFilesCannotFillTheRunDirectory(t *testing.T) {
	h := newHarness(t)
	p := h.pod("flood", `yes why | head -c 8192 > /dev/termination-log; yes host | head -c 8388608 >> /etc/hosts; exit 2`)
	p.Spec.RestartPolicy = "Never"
	p = h.create(p)
	got := h.waitPod("flood", "Failed", phase("Failed"))
	if msg := container(got).GetState().GetTerminated().GetMessage(); len(msg) != 4096 || !strings.HasPrefix(msg, "why\nwhy\n") {
		t.Errorf("message of %d bytes starting %.12q, want the first 4096 bytes of what it wrote", len(msg), msg)
	}
	dir := filepath.Join(h.cfg.RunDir, "pods", p.Metadata.Uid)
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("statfs %s: type %#x, %v; want a tmpfs", dir, fs.Type, err)
	}
	if used := (fs.Blocks - fs.Bfree) * uint64(fs.Bsize); fs.Bfree != 0 || used > 1<<20 {
		t.Fatalf("the pod's tmpfs: %d bytes used, %d blocks free; want it full at 1 MiB", used, fs.Bfree)
	}

	zero := int64(0)
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "flood", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.waitGone("flood")
	deadline := time.Now().Add(30 * time.Second)
	for {
		mounts, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(dir)
		if !strings.Contains(string(mounts), dir) && errors.Is(statErr, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the pod went, %s is still there (%v) or mounted", dir, statErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Past activeDeadlineSeconds the node stops the pod: Failed,
// DeadlineExceeded.
func TestActiveDeadline(t *testing.T) {
	h := newHarness(t)
	p := h.pod("deadline", `sleep 1000`)
	p.Spec.ActiveDeadlineSeconds = int64p(2)
	p.Spec.TerminationGracePeriodSeconds = int64p(1)
	h.create(p)
	got := h.waitPod("deadline", "Failed", phase("Failed"))
	if got.Status.Reason != "DeadlineExceeded" || container(got).GetState().GetTerminated() == nil {
		t.Fatalf("status %v: want DeadlineExceeded with the container stopped", got.Status)
	}
}
