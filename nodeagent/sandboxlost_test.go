package nodeagent

import (
	"slices"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// sandboxChangedEvents counts the pod's SandboxChanged events.
func (h *syncHarness) sandboxChangedEvents() int {
	h.t.Helper()
	evs, _, err := h.c.Events().List(h.ctx(), client.ListOptions{Namespace: "default"})
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Reason == "SandboxChanged" {
			n++
		}
	}
	return n
}

// losesItsSandbox starts a pod, removes its sandbox from under it and
// syncs it once more.
func (h *syncHarness) losesItsSandbox(name, restartPolicy string) (*skiffv1.Pod, *podState) {
	h.t.Helper()
	p := h.pod(name, restartPolicy)
	st := newPodState()
	h.sync(p, st)
	if err := h.rt.RemoveSandbox(p.Metadata.Uid); err != nil {
		h.t.Fatal(err)
	}
	h.sync(p, st)
	return p, st
}

// A pod whose sandbox disappears under it is given a new one, as the
// kubelet does when a sandbox changed: its container is killed and
// started again in it at once (the harness's crash back-off is an hour),
// with its network attached again.
func TestSyncReplacesALostSandbox(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p, st := h.losesItsSandbox("web", "")
	uid := p.Metadata.Uid
	first, second := runtime.ContainerID(uid, "app", 0), runtime.ContainerID(uid, "app", 1)
	if !slices.Contains(h.rt.stopped, first) {
		t.Fatalf("the container in the lost sandbox was not killed (stopped: %v)", h.rt.stopped)
	}
	h.wantContainers(first, second)
	if c, _ := h.rt.state(second); c.Status != runtime.StatusRunning {
		t.Fatalf("the container again: %+v, want running", c)
	}
	if _, err := h.rt.Sandbox(uid); err != nil || !h.net.isAttached(uid) {
		t.Fatalf("new sandbox: %v, attached %v", err, h.net.isAttached(uid))
	}
	if cs := h.status(p).GetContainerStatuses()[0]; cs.GetRestartCount() != 1 || cs.GetState().GetRunning() == nil {
		t.Fatalf("status %v: want running, restarted once", cs)
	}
	if n := h.sandboxChangedEvents(); n != 1 {
		t.Fatalf("%d SandboxChanged events, want 1", n)
	}
	h.sync(p, st)
	h.wantContainers(first, second)
}

// Init containers run again in a new sandbox, before the container,
// whether the old one went while the pod ran or with a reboot (then the
// agent's new worker finds what is left of it).
func TestSyncRunsInitContainersAgainInANewSandbox(t *testing.T) {
	for _, loss := range []struct {
		name string
		lose func(h *syncHarness, uid string, st *podState) *podState
	}{
		{"removed", func(h *syncHarness, uid string, st *podState) *podState {
			if err := h.rt.RemoveSandbox(uid); err != nil {
				h.t.Fatal(err)
			}
			return st
		}},
		{"reboot", func(h *syncHarness, _ string, _ *podState) *podState {
			h.rt.reboot()
			return newPodState() // the agent after the reboot
		}},
	} {
		t.Run(loss.name, func(t *testing.T) {
			h := newSyncHarness(t, time.Hour)
			p := h.podWith("web", "Always", &skiffv1.PodSpec{InitContainers: []*skiffv1.Container{ctr("setup")}, Containers: []*skiffv1.Container{ctr("app")}})
			uid := p.Metadata.Uid
			st := newPodState()
			h.sync(p, st)
			h.rt.exit(runtime.ContainerID(uid, "setup", 0), 0)
			h.sync(p, st)
			h.wantContainers(runtime.ContainerID(uid, "app", 0), runtime.ContainerID(uid, "setup", 0))

			st = loss.lose(h, uid, st)
			h.sync(p, st)
			if _, err := h.rt.Sandbox(uid); err != nil {
				t.Fatalf("no new sandbox: %v", err)
			}
			h.wantContainers(runtime.ContainerID(uid, "app", 0), runtime.ContainerID(uid, "setup", 0), runtime.ContainerID(uid, "setup", 1))
			if c, _ := h.rt.state(runtime.ContainerID(uid, "app", 0)); c.Status == runtime.StatusRunning {
				t.Fatalf("the container while the init container runs again: %+v, want ended", c)
			}
			h.rt.exit(runtime.ContainerID(uid, "setup", 1), 0)
			h.sync(p, st)
			if c, _ := h.rt.state(runtime.ContainerID(uid, "app", 1)); c.Status != runtime.StatusRunning {
				t.Fatalf("the container after the init container: %+v, want running", c)
			}
		})
	}
}

// restartPolicy Never: the pod fails, as the kubelet's; no new sandbox.
func TestSyncFailsANeverPodWhoseSandboxIsLost(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p, st := h.losesItsSandbox("once", "Never")
	uid := p.Metadata.Uid
	h.sync(p, st)
	h.wantContainers(runtime.ContainerID(uid, "app", 0))
	if s := h.status(p); s.GetPhase() != skiffv1.PodFailed {
		t.Fatalf("status %v: want Failed", s)
	}
	if _, err := h.rt.Sandbox(uid); err == nil {
		t.Fatal("a Never pod that failed got a new sandbox")
	}
	if n := h.sandboxChangedEvents(); n != 1 {
		t.Fatalf("%d SandboxChanged events, want 1", n)
	}
}
