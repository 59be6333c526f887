package nodeagent_test

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPodRunsAndServes(t *testing.T) {
	h := newHarness(t)
	p := h.pod("web", "")
	p.Spec.Containers[0].Command = nil // the image's own entrypoint: httpd on :8080
	p.Spec.Containers[0].ReadinessProbe = &skiffv1.Probe{HttpGet: &skiffv1.HTTPGetAction{Port: 8080}, PeriodSeconds: 1}
	h.create(p)
	p = h.waitPod("web", "ready", ready)
	if p.Status.Phase != "Running" {
		t.Fatalf("phase %s", p.Status.Phase)
	}
	ip, err := netip.ParseAddr(p.Status.PodIp)
	if err != nil || !netip.MustParsePrefix("10.88.0.0/24").Contains(ip) {
		t.Fatalf("pod IP %q not in the node's CIDR", p.Status.PodIp)
	}
	out, err := h.inNode("/bin/busybox", "wget", "-q", "-O", "-", "http://"+p.Status.PodIp+":8080/")
	if err != nil || !strings.Contains(out, "Hello from skiff") {
		t.Fatalf("HTTP from the node to the pod: %v: %s", err, out)
	}
	c := container(p)
	if !c.Ready || !c.Started || c.State.GetRunning() == nil || c.ImageId == "" {
		t.Fatalf("container status: %v", c)
	}
	node, err := h.c.Nodes().Get(h.ctx(), "", "node-1")
	if err != nil || node.Status.Allocatable["cpu"] == "" || node.Status.AgentEndpoint == "" {
		t.Fatalf("node status: %v %v", node.GetStatus(), err)
	}
}

func TestRestartPolicies(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, policy, script string
		check                func(*skiffv1.Pod) bool
		what                 string
	}{
		{"never-fails", "Never", "exit 3", func(p *skiffv1.Pod) bool {
			c := container(p)
			return p.Status.Phase == "Failed" && c.State.GetTerminated().GetExitCode() == 3 && c.RestartCount == 0
		}, "Failed with exit code 3 and no restart"},
		{"onfailure-succeeds", "OnFailure", "exit 0", func(p *skiffv1.Pod) bool {
			c := container(p)
			return p.Status.Phase == "Succeeded" && c.State.GetTerminated().GetReason() == "Completed" && c.RestartCount == 0
		}, "Succeeded without restarts"},
		{"onfailure-restarts", "OnFailure", "exit 1", func(p *skiffv1.Pod) bool {
			c := container(p)
			return c.GetRestartCount() >= 2 && c.LastState.GetTerminated().GetExitCode() == 1 && p.Status.Phase == "Running"
		}, "restarted twice after failing"},
		{"always-restarts", "Always", "exit 0", func(p *skiffv1.Pod) bool {
			return container(p).GetRestartCount() >= 2
		}, "restarted twice after succeeding"},
	}
	for _, c := range cases {
		p := h.pod(c.name, c.script)
		p.Spec.RestartPolicy = c.policy
		h.create(p)
	}
	for _, c := range cases {
		h.waitPod(c.name, c.what, c.check)
	}
	// A crash-looping container shows the back-off in its waiting reason.
	h.waitPod("onfailure-restarts", "in CrashLoopBackOff", func(p *skiffv1.Pod) bool {
		return container(p).GetState().GetWaiting().GetReason() == "CrashLoopBackOff"
	})
}

func TestProbes(t *testing.T) {
	h := newHarness(t)
	live := h.pod("liveness", "sleep 1000")
	one := int64(1) // sleep as PID 1 ignores SIGTERM: don't wait 30s
	live.Spec.TerminationGracePeriodSeconds = &one
	live.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{
		Exec: &skiffv1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}, PeriodSeconds: 1, FailureThreshold: 2,
	}
	h.create(live)
	notReady := h.pod("readiness", "sleep 1000")
	notReady.Spec.Containers[0].ReadinessProbe = &skiffv1.Probe{TcpSocket: &skiffv1.TCPSocketAction{Port: 9}, PeriodSeconds: 1}
	h.create(notReady)
	h.waitPod("liveness", "restarted by its liveness probe", func(p *skiffv1.Pod) bool {
		return container(p).GetRestartCount() >= 1
	})
	p := h.waitPod("readiness", "running", phase("Running"))
	time.Sleep(2 * time.Second) // a few probe periods
	p, err := h.c.Pods().Get(h.ctx(), "default", "readiness")
	if err != nil {
		t.Fatal(err)
	}
	if ready(p) || container(p).Ready {
		t.Fatalf("a pod whose readiness probe fails is ready: %v", p.Status)
	}
	if container(p).RestartCount != 0 {
		t.Fatal("a failing readiness probe restarted the container")
	}
}

func TestGracefulDeletion(t *testing.T) {
	h := newHarness(t)
	shared := t.TempDir()
	mount := func(p *skiffv1.Pod) {
		p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "out", HostPath: &skiffv1.HostPathSource{Path: shared}}}
		p.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "out", MountPath: "/out"}}
	}
	polite := h.pod("polite", `trap 'echo got TERM > /out/term; exit 0' TERM; echo up > /out/up; while true; do sleep 0.1; done`)
	mount(polite)
	grace := int64(20)
	polite.Spec.TerminationGracePeriodSeconds = &grace
	h.create(polite)
	stubborn := h.pod("stubborn", `trap '' TERM; while true; do sleep 0.1; done`)
	one := int64(1)
	stubborn.Spec.TerminationGracePeriodSeconds = &one
	h.create(stubborn)
	h.waitPod("polite", "running", phase("Running"))
	h.waitPod("stubborn", "running", phase("Running"))
	waitFile(t, filepath.Join(shared, "up"))

	for _, name := range []string{"polite", "stubborn"} {
		if _, deleted, err := h.c.Pods().Delete(h.ctx(), "default", name, client.DeleteOptions{}); err != nil || deleted {
			t.Fatalf("delete %s: deleted=%v err=%v (want a graceful deletion)", name, deleted, err)
		}
	}
	h.waitGone("polite")
	h.waitGone("stubborn") // SIGKILL after its one-second grace period
	if data, err := os.ReadFile(filepath.Join(shared, "term")); err != nil || strings.TrimSpace(string(data)) != "got TERM" {
		t.Fatalf("the container did not see SIGTERM: %q %v", data, err)
	}
}

func TestAgentRestartKeepsContainers(t *testing.T) {
	h := newHarness(t)
	shared := t.TempDir()
	p := h.pod("steady", `echo started >> /out/log; exec sleep 1000`)
	p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "out", HostPath: &skiffv1.HostPathSource{Path: shared}}}
	p.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "out", MountPath: "/out"}}
	h.create(p)
	before := h.waitPod("steady", "running", phase("Running"))
	h.stopAgent()
	h.startAgent()
	time.Sleep(time.Second) // several resyncs of the new agent
	after := h.waitPod("steady", "running", phase("Running"))
	b, a := container(before), container(after)
	if a.ContainerId != b.ContainerId || a.RestartCount != 0 || !a.State.GetRunning().GetStartedAt().AsTime().Equal(b.State.GetRunning().GetStartedAt().AsTime()) {
		t.Fatalf("container changed across the agent restart:\nbefore %v\nafter  %v", b, a)
	}
	if data, _ := os.ReadFile(filepath.Join(shared, "log")); strings.Count(string(data), "started") != 1 {
		t.Fatalf("the container started %d times", strings.Count(string(data), "started"))
	}
	if after.Status.PodIp != before.Status.PodIp {
		t.Fatalf("pod IP changed: %s → %s", before.Status.PodIp, after.Status.PodIp)
	}
}

func TestReleasedIPIsReused(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("first", "sleep 1000"))
	first := h.waitPod("first", "running", phase("Running"))
	// A graceful deletion: the agent confirms it once the pod is torn
	// down, so its address is free by the time the pod is gone.
	one := int64(1)
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "first", client.DeleteOptions{GracePeriodSeconds: &one}); err != nil {
		t.Fatal(err)
	}
	h.waitGone("first")
	h.create(h.pod("second", "sleep 1000"))
	second := h.waitPod("second", "running", phase("Running"))
	if second.Status.PodIp != first.Status.PodIp {
		t.Fatalf("released %s, got %s (lowest free first)", first.Status.PodIp, second.Status.PodIp)
	}
}

func TestVolumesSharedAndKept(t *testing.T) {
	h := newHarness(t)
	ctx := h.ctx()
	if _, err := h.c.Volumes().Create(ctx, &skiffv1.Volume{
		Metadata: &skiffv1.ObjectMeta{Name: "data"},
		Spec:     &skiffv1.VolumeSpec{AccessMode: "ReadWriteMany", Local: &skiffv1.LocalVolumeSource{}},
	}); err != nil {
		t.Fatal(err)
	}
	withData := func(p *skiffv1.Pod) *skiffv1.Pod {
		p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "data", Volume: &skiffv1.VolumeClaimSource{Name: "data"}}}
		p.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "data", MountPath: "/data"}}
		return p
	}
	h.create(withData(h.pod("writer", `echo shared > /data/f; sleep 1000`)))
	h.create(withData(h.pod("reader", `while [ ! -f /data/f ]; do sleep 0.1; done; cat /data/f; sleep 1000`)))
	h.waitPod("writer", "running", phase("Running"))
	h.waitPod("reader", "running", phase("Running"))
	waitLogs(t, h, "reader", "shared")
	zero := int64(0)
	for _, n := range []string{"writer", "reader"} {
		if _, _, err := h.c.Pods().Delete(ctx, "default", n, client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		h.waitGone(n)
	}
	h.create(withData(h.pod("later", `cat /data/f; sleep 1000`)))
	h.waitPod("later", "running", phase("Running"))
	waitLogs(t, h, "later", "shared")
}

func TestBadInputEndsInStatus(t *testing.T) {
	h := newHarness(t)
	missing := h.pod("missing-image", "true")
	missing.Spec.Containers[0].Image = strings.Replace(h.image, "busybox:1", "nosuch:1", 1)
	reasons := h.watchWaitingReasons("missing-image")
	h.create(missing)
	notFound := h.pod("no-command", "")
	notFound.Spec.Containers[0].Command = []string{"/no/such/binary"}
	notFound.Spec.RestartPolicy = "Never"
	h.create(notFound)
	hungry := h.pod("hungry", `head -c 200m /dev/zero | tail`)
	hungry.Spec.RestartPolicy = "Never"
	hungry.Spec.Containers[0].Resources = &skiffv1.ResourceRequirements{Limits: map[string]string{"memory": "16Mi"}}
	h.create(hungry)

	h.waitPod("missing-image", "in ImagePullBackOff with the registry's error", func(p *skiffv1.Pod) bool {
		w := container(p).GetState().GetWaiting()
		return w.GetReason() == "ImagePullBackOff" && strings.Contains(w.GetMessage(), "nosuch") && strings.Contains(w.GetMessage(), "NAME_UNKNOWN")
	})
	// The watch behind reasons may deliver the update after waitPod read it.
	got := reasons()
	for end := time.Now().Add(30 * time.Second); len(got) < 2 && time.Now().Before(end); got = reasons() {
		time.Sleep(50 * time.Millisecond)
	}
	if len(got) < 2 || got[0] != "ErrImagePull" || got[1] != "ImagePullBackOff" {
		t.Fatalf("waiting reasons %v, want ErrImagePull then ImagePullBackOff", got)
	}
	p := h.waitPod("no-command", "failed", phase("Failed"))
	if term := container(p).GetState().GetTerminated(); term.GetExitCode() == 0 || !strings.Contains(term.GetMessage()+term.GetReason(), "no") {
		t.Fatalf("a missing command should say so: %v", term)
	}
	p = h.waitPod("hungry", "OOM-killed", func(p *skiffv1.Pod) bool {
		return container(p).GetState().GetTerminated().GetReason() == "OOMKilled"
	})
	if p.Status.Phase != "Failed" {
		t.Fatalf("phase %s after OOM", p.Status.Phase)
	}
}

func TestLogsAndExec(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("talker", `echo hello; echo oops >&2; sleep 1000`))
	p := h.waitPod("talker", "running", phase("Running"))
	io := h.podIO()
	// stdout and stderr are separate pipes: their lines may interleave
	// either way.
	waitLogs(t, h, "talker", "hello\n")
	waitLogs(t, h, "talker", "oops\n")

	run := func(stdin string, cmd ...string) (string, int32) {
		stream, err := io.Exec(h.ctx())
		if err != nil {
			t.Fatal(err)
		}
		start := &skiffv1.ExecStart{Namespace: "default", Pod: p.Metadata.Name, Command: cmd, Stdin: stdin != ""}
		if err := stream.Send(&skiffv1.ExecInput{Start: start}); err != nil {
			t.Fatal(err)
		}
		if stdin != "" {
			stream.Send(&skiffv1.ExecInput{Stdin: []byte(stdin)})
			stream.Send(&skiffv1.ExecInput{StdinClosed: true})
		}
		var out bytes.Buffer
		for {
			m, err := stream.Recv()
			if err != nil {
				t.Fatalf("exec %v: %v", cmd, err)
			}
			out.Write(m.Stdout)
			out.Write(m.Stderr)
			if m.ExitCode != nil {
				return out.String(), *m.ExitCode
			}
		}
	}
	if out, code := run("", "sh", "-c", "hostname; exit 7"); code != 7 || strings.TrimSpace(out) != "talker" {
		t.Fatalf("exec: %q exit %d, want the pod's hostname and 7", out, code)
	}
	if out, code := run("ping\n", "cat"); code != 0 || out != "ping\n" {
		t.Fatalf("exec with stdin: %q exit %d", out, code)
	}
}

// waitLogs waits until a pod's log (through the agent) contains want.
func waitLogs(t *testing.T, h *harness, pod, want string) {
	t.Helper()
	podio := h.podIO()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		stream, err := podio.Logs(context.Background(), &skiffv1.LogsRequest{Namespace: "default", Pod: pod, TailLines: -1})
		if err == nil {
			var b bytes.Buffer
			for {
				m, err := stream.Recv()
				if err == io.EOF || err != nil {
					break
				}
				b.Write(m.Data)
			}
			got = b.String()
			if strings.Contains(got, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("logs of %s: %q, want %q in them", pod, got, want)
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// A pod deleted (with force) while the agent was down: the next agent
// removes its containers and sandbox when it starts.
func TestPodsDeletedWhileAwayAreCleanedUp(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("gone", "sleep 1000"))
	p := h.waitPod("gone", "running", phase("Running"))
	h.stopAgent()
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "gone", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	h.startAgent()
	sandboxes := filepath.Join(h.cfg.RunDir, "runtime", "sandboxes", p.Metadata.Uid)
	containers := filepath.Join(h.cfg.DataDir, "runtime", "containers", container(p).ContainerId)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, errS := os.Stat(sandboxes)
		_, errC := os.Stat(containers)
		if os.IsNotExist(errS) && os.IsNotExist(errC) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted pod's sandbox (%v) or container (%v) is still there", errS, errC)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
