package nodeagent

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	"github.com/skiff-sh/skiff/nodeagent/teardown"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The sync decisions of the agent — start, restart after a back-off, keep
// one old instance, respect the restart policy, finish a created container,
// tear down a deleted pod — on a fake runtime, image store and network: no
// root needed. The API server is a real one on loopback (apitest).

type syncHarness struct {
	t   *testing.T
	a   *Agent
	rt  *fakeRuntime
	net *fakeNetwork
	c   *client.Client
}

func newSyncHarness(t *testing.T, backoff time.Duration) *syncHarness {
	s := apitest.Start(t)
	cfg := Config{
		Client: s.Client, NodeName: "n1", DataDir: t.TempDir(), RunDir: t.TempDir(),
		ClusterDNS: "10.88.0.1", AdvertiseAddress: "127.0.0.1",
		BackoffBase: backoff, BackoffMax: backoff,
	}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	// Run as root, the agent mounts each pod's termination tmpfs; these
	// pods are never torn down.
	t.Cleanup(func() {
		if _, err := teardown.UnmountUnder(cfg.RunDir); err != nil {
			t.Errorf("unmount under the run directory: %v", err)
		}
	})
	h := &syncHarness{t: t, rt: newFakeRuntime(), net: &fakeNetwork{}, c: s.Client}
	h.a = &Agent{
		cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Registerer),
		runtime: h.rt, images: &fakeImages{}, net: h.net,
		workers: map[string]*podWorker{}, ready: make(chan struct{}),
	}
	return h
}

func (h *syncHarness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// pod creates a pod bound to the node with one container "app".
func (h *syncHarness) pod(name, restartPolicy string) *skiffv1.Pod {
	h.t.Helper()
	p, err := h.c.Pods().Create(h.ctx(), &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.PodSpec{
			NodeName: "n1", RestartPolicy: restartPolicy,
			Containers: []*skiffv1.Container{{Name: "app", Image: "busybox", Command: []string{"/bin/app"}}},
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// sync runs one sync of the pod as its worker would, with the pod as
// stored now.
func (h *syncHarness) sync(p *skiffv1.Pod, st *podState) (done bool) {
	h.t.Helper()
	cur, err := h.c.Pods().Get(h.ctx(), p.Metadata.Namespace, p.Metadata.Name)
	if err != nil {
		h.t.Fatal(err)
	}
	done, err = h.a.syncPod(h.ctx(), cur, st)
	if err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	return done
}

func (h *syncHarness) status(p *skiffv1.Pod) *skiffv1.PodStatus {
	h.t.Helper()
	cur, err := h.c.Pods().Get(h.ctx(), p.Metadata.Namespace, p.Metadata.Name)
	if err != nil {
		h.t.Fatal(err)
	}
	return cur.GetStatus()
}

// backoffOver makes the crash of container id an hour old and its
// back-off over, as if the time had passed.
func (h *syncHarness) backoffOver(st *podState, id string) {
	h.rt.age(id, time.Hour)
	st.container("app").notBefore = time.Now().Add(-time.Minute)
}

func (h *syncHarness) wantContainers(want ...string) {
	h.t.Helper()
	if got := h.rt.ids(); !slices.Equal(got, want) {
		h.t.Fatalf("containers %v, want %v", got, want)
	}
}

func TestSyncStartsPod(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.pod("web", "")
	st := newPodState()
	if h.sync(p, st) {
		t.Fatal("a new pod reported done")
	}
	uid := p.Metadata.Uid
	id := runtime.ContainerID(uid, "app", 0)
	h.wantContainers(id)
	if c, _ := h.rt.state(id); c.Status != runtime.StatusRunning || c.Labels[LabelPodName] != "web" {
		t.Fatalf("container %+v: want running, labelled with its pod", c)
	}
	if _, err := h.rt.Sandbox(uid); err != nil || !h.net.isAttached(uid) {
		t.Fatalf("sandbox %v, attached %v", err, h.net.isAttached(uid))
	}
	s := h.status(p)
	if s.GetPhase() != skiffv1.PodRunning || s.GetPodIp() != fakePodIP.String() {
		t.Fatalf("status %v: want Running with IP %s", s, fakePodIP)
	}
	// Nothing changed: another sync starts nothing new.
	h.sync(p, st)
	h.wantContainers(id)
}

// A crashing container waits out its back-off (CrashLoopBackOff), then
// restarts as the next attempt; one exited instance is kept for `logs
// --previous`, older ones go.
func TestSyncRestartsAfterBackoff(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.pod("crash", "Always")
	uid := p.Metadata.Uid
	st := newPodState()
	h.sync(p, st)
	h.rt.exit(runtime.ContainerID(uid, "app", 0), 1)
	h.sync(p, st)
	h.wantContainers(runtime.ContainerID(uid, "app", 0))
	cs := h.status(p).GetContainerStatuses()[0]
	if cs.GetState().GetWaiting().GetReason() != "CrashLoopBackOff" {
		t.Fatalf("container status %v: want waiting in CrashLoopBackOff", cs)
	}

	// The back-off is over: restart as attempt 1, keeping attempt 0.
	h.backoffOver(st, runtime.ContainerID(uid, "app", 0))
	h.sync(p, st)
	h.wantContainers(runtime.ContainerID(uid, "app", 0), runtime.ContainerID(uid, "app", 1))
	if cs := h.status(p).GetContainerStatuses()[0]; cs.GetRestartCount() != 1 || cs.GetState().GetRunning() == nil {
		t.Fatalf("after restart: %v, want running with restart count 1", cs)
	}

	// Crash and restart again: attempt 0 goes, 1 stays as the previous.
	h.rt.exit(runtime.ContainerID(uid, "app", 1), 2)
	h.sync(p, st)
	h.wantContainers(runtime.ContainerID(uid, "app", 0), runtime.ContainerID(uid, "app", 1))
	h.backoffOver(st, runtime.ContainerID(uid, "app", 1))
	h.sync(p, st)
	h.wantContainers(runtime.ContainerID(uid, "app", 1), runtime.ContainerID(uid, "app", 2))
}

// restartPolicy Never: a failed container stays down and the pod Failed;
// a finished pod is left as it is.
func TestSyncNeverRestarts(t *testing.T) {
	h := newSyncHarness(t, 0)
	p := h.pod("once", "Never")
	uid := p.Metadata.Uid
	st := newPodState()
	h.sync(p, st)
	h.rt.exit(runtime.ContainerID(uid, "app", 0), 3)
	h.sync(p, st)
	h.sync(p, st)
	h.wantContainers(runtime.ContainerID(uid, "app", 0))
	s := h.status(p)
	if s.GetPhase() != skiffv1.PodFailed || s.GetContainerStatuses()[0].GetState().GetTerminated().GetExitCode() != 3 {
		t.Fatalf("status %v: want Failed with exit code 3", s)
	}
}

// A container created but not started (the agent stopped in between) is
// started, not replaced by a new attempt.
func TestSyncStartsCreatedContainer(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.pod("half", "")
	uid := p.Metadata.Uid
	id := runtime.ContainerID(uid, "app", 0)
	if _, err := h.rt.Create(h.ctx(), runtime.ContainerSpec{ID: id, SandboxID: uid, Name: "app"}); err != nil {
		t.Fatal(err)
	}
	h.sync(p, newPodState())
	h.wantContainers(id)
	if c, _ := h.rt.state(id); c.Status != runtime.StatusRunning {
		t.Fatalf("container %+v: want started", c)
	}
}

// A pod being deleted is stopped, its containers, sandbox and network
// removed, and then deleted from the API: the worker is done.
func TestSyncTearsDownDeletedPod(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.pod("gone", "")
	uid := p.Metadata.Uid
	st := newPodState()
	h.sync(p, st)
	if _, _, err := h.c.Pods().Delete(h.ctx(), "default", "gone", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !h.sync(p, st) {
		t.Fatal("a torn-down pod's worker is not done")
	}
	h.wantContainers()
	if !slices.Contains(h.rt.stopped, runtime.ContainerID(uid, "app", 0)) {
		t.Fatalf("the container was never stopped (stopped: %v)", h.rt.stopped)
	}
	if _, err := h.rt.Sandbox(uid); err == nil || h.net.isAttached(uid) {
		t.Fatalf("sandbox or network left: sandbox err %v, attached %v", err, h.net.isAttached(uid))
	}
	if _, err := h.c.Pods().Get(h.ctx(), "default", "gone"); !client.IsNotFound(err) {
		t.Fatalf("the pod is still stored: %v", err)
	}
}

// Orphans: the remains of a pod deleted while the agent was away go.
func TestCleanupOrphans(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	if _, err := h.rt.CreateSandbox(runtime.SandboxSpec{ID: "lost-uid"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.rt.Create(h.ctx(), runtime.ContainerSpec{ID: runtime.ContainerID("lost-uid", "app", 0), SandboxID: "lost-uid", Name: "app"}); err != nil {
		t.Fatal(err)
	}
	h.a.pods = client.NewInformer(h.c.Pods(), client.ListOptions{}, h.a.log)
	if err := h.a.cleanupOrphans(h.ctx()); err != nil {
		t.Fatal(err)
	}
	h.wantContainers()
	if ids, _ := h.rt.SandboxIDs(); len(ids) != 0 {
		t.Fatalf("sandboxes left: %v", ids)
	}
}

// A pod bound while the agent starts is not taken for an orphan: its
// worker may make its sandbox before the pod cache that cleanupOrphans
// reads has it.
func TestCleanupOrphansLeavesAPodWorkersSandbox(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	for _, uid := range []string{"lost-uid", "new-uid"} {
		if _, err := h.rt.CreateSandbox(runtime.SandboxSpec{ID: uid}); err != nil {
			t.Fatal(err)
		}
	}
	h.a.workers["new-uid"] = newPodWorker(h.a, "new-uid")
	h.a.pods = client.NewInformer(h.c.Pods(), client.ListOptions{}, h.a.log)
	if err := h.a.cleanupOrphans(h.ctx()); err != nil {
		t.Fatal(err)
	}
	if ids, _ := h.rt.SandboxIDs(); !slices.Equal(ids, []string{"new-uid"}) {
		t.Fatalf("sandboxes after the cleanup: %v, want only the worker's new-uid", ids)
	}
}

// A pod start is one status write: Running and, with no readiness probe,
// Ready in the same write. A later sync with a pod object older than that
// write (an informer behind) writes nothing more, and one with the stored
// pod neither.
func TestSyncWritesStatusOncePerStart(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	stale := h.pod("web", "")
	st := newPodState()
	h.sync(stale, st)
	cur, err := h.c.Pods().Get(h.ctx(), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	if s := cur.GetStatus(); s.GetPhase() != skiffv1.PodRunning || !skiffv1.IsPodReady(cur) || !s.GetContainerStatuses()[0].GetReady() {
		t.Fatalf("status after the first sync %v: want Running and Ready", s)
	}
	written := cur.Metadata.ResourceVersion
	for _, p := range []*skiffv1.Pod{stale, cur} {
		if _, err := h.a.syncPod(h.ctx(), p, st); err != nil {
			t.Fatal(err)
		}
		after, err := h.c.Pods().Get(h.ctx(), "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		if after.Metadata.ResourceVersion != written {
			t.Fatalf("a sync with the pod at resource version %s wrote the status again: %v", p.Metadata.ResourceVersion, after.Status)
		}
	}
}
