package nodeagent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/image/build"
	"github.com/skiff-sh/skiff/nodeagent"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/registry"
)

func TestMain(m *testing.M) {
	// The runtime re-executes this test binary as supervisor and init.
	if runtime.RunReexecEntry() {
		return
	}
	os.Exit(m.Run())
}

// harness is one node: a real API server, a registry holding a busybox
// image, and an agent whose node network lives in a namespace of its own,
// so the host's network is never touched.
type harness struct {
	t      *testing.T
	api    *apitest.Server
	c      *client.Client
	image  string
	nodeNS string // path of the node's netns
	nsName string
	cfg    nodeagent.Config
	agent  *nodeagent.Agent
	stop   context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: namespaces, cgroups, mounts")
	}
	if _, err := os.Stat(build.BusyboxPath); err != nil {
		t.Skipf("needs %s (Debian busybox-static): %v", build.BusyboxPath, err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2)")
	}
	h := &harness{t: t, api: apitest.Start(t)}
	h.c = h.api.Client
	h.image = startRegistry(t)
	h.nsName, h.nodeNS = newNodeNetNS(t)
	h.cfg = nodeagent.Config{
		Client:            h.c,
		NodeName:          "node-1",
		DataDir:           t.TempDir(),
		RunDir:            t.TempDir(),
		Listen:            "127.0.0.1:0",
		HostNetNS:         h.nodeNS,
		ResyncInterval:    200 * time.Millisecond,
		HeartbeatInterval: time.Second,
		UsageInterval:     time.Second,
		BackoffBase:       200 * time.Millisecond,
		BackoffMax:        time.Second,
		Binary:            os.Args[0],
	}
	// Cleanups run last-in first-out: pods go first, while the agent still
	// runs to tear them down, then the agent stops.
	t.Cleanup(h.stopAgent)
	t.Cleanup(h.removeAllPods)
	h.startAgent()
	return h
}

func (h *harness) startAgent() {
	h.t.Helper()
	a, err := nodeagent.New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.agent, h.stop, h.done = a, cancel, make(chan error, 1)
	go func() { h.done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-h.done:
		h.t.Fatalf("agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		h.t.Fatal("agent not ready after 30s")
	}
}

func (h *harness) stopAgent() {
	if h.stop == nil {
		return
	}
	h.stop()
	if err := <-h.done; err != nil {
		h.t.Errorf("agent: %v", err)
	}
	h.stop = nil
}

func (h *harness) removeAllPods() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pods, _, err := h.c.Pods().List(ctx, client.ListOptions{})
	if err != nil {
		h.t.Errorf("cleanup: %v", err)
		return
	}
	zero := int64(0)
	for _, p := range pods {
		if _, _, err := h.c.Pods().Delete(ctx, p.Metadata.Namespace, p.Metadata.Name, client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !client.IsNotFound(err) {
			h.t.Errorf("cleanup: delete %s: %v", p.Metadata.Name, err)
		}
	}
	// The agent tears pods down after they leave the API: wait until the
	// runtime holds nothing of theirs.
	rt, err := runtime.New(runtime.Config{StateDir: filepath.Join(h.cfg.DataDir, "runtime"), RunDir: filepath.Join(h.cfg.RunDir, "runtime")})
	if err != nil {
		h.t.Errorf("cleanup: %v", err)
		return
	}
	var errs []error
	for ctx.Err() == nil {
		states, err1 := rt.List()
		sandboxes, err2 := rt.ListSandboxes()
		left, _, err3 := h.c.Pods().List(ctx, client.ListOptions{})
		// A pod's directory goes last, its termination tmpfs detached.
		dirs, err4 := os.ReadDir(filepath.Join(h.cfg.RunDir, "pods"))
		if errors.Is(err4, fs.ErrNotExist) {
			err4 = nil
		}
		errs = []error{err1, err2, err3, err4}
		if errors.Join(errs...) == nil && len(states) == 0 && len(sandboxes) == 0 && len(left) == 0 && len(dirs) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Errorf("cleanup: pods not torn down within 60s (%v)", errors.Join(errs...))
}

// startRegistry runs a registry on loopback with the busybox image and
// returns its reference; configure, when given, adjusts the registry
// (its Auth must let the push through).
func startRegistry(t *testing.T, configure ...func(*registry.Config)) string {
	t.Helper()
	cfg := registry.Config{DataDir: t.TempDir()}
	for _, c := range configure {
		c(&cfg)
	}
	reg, err := registry.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { reg.Serve(ctx, lis); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	ref := lis.Addr().String() + "/busybox:1"
	if _, err := (build.Remote{}).Push(ctx, img, ref, nil); err != nil {
		t.Fatal(err)
	}
	return ref
}

// newNodeNetNS makes a named network namespace to stand in for the node's.
func newNodeNetNS(t *testing.T) (name, path string) {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name = "skiffagt-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	exec.Command("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up").Run()
	return name, filepath.Join("/run/netns", name)
}

// inNode runs a command in the node's network namespace.
func (h *harness) inNode(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.nsName}, args...)...).CombinedOutput()
	return string(out), err
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// podIO is a client of the agent's PodIO service (logs, exec,
// port-forward), closed when the test ends.
func (h *harness) podIO() skiffv1.PodIOClient {
	h.t.Helper()
	node, err := h.c.Nodes().Get(context.Background(), "", "node-1")
	if err != nil {
		h.t.Fatal(err)
	}
	conn, err := grpc.NewClient(node.Status.AgentEndpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { conn.Close() })
	return skiffv1.NewPodIOClient(conn)
}

// pod makes a one-container pod of the busybox image running sh -c script.
func (h *harness) pod(name, script string) *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Labels: map[string]string{"test": name}},
		Spec: &skiffv1.PodSpec{
			NodeName: "node-1",
			Containers: []*skiffv1.Container{{
				Name: "main", Image: h.image, Command: []string{"sh", "-c", script},
			}},
		},
	}
}

func (h *harness) create(p *skiffv1.Pod) *skiffv1.Pod {
	h.t.Helper()
	out, err := h.c.Pods().Create(h.ctx(), p)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// waitPod polls the pod until cond holds, failing with the last status.
func (h *harness) waitPod(name string, what string, cond func(*skiffv1.Pod) bool) *skiffv1.Pod {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last *skiffv1.Pod
	for time.Now().Before(deadline) {
		p, err := h.c.Pods().Get(context.Background(), "default", name)
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("pod %s: not %s within 60s; last status: %v", name, what, last.GetStatus())
	return nil
}

func (h *harness) waitGone(name string) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := h.c.Pods().Get(context.Background(), "default", name); client.IsNotFound(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("pod %s still there after 60s", name)
}

func phase(want string) func(*skiffv1.Pod) bool {
	return func(p *skiffv1.Pod) bool { return p.GetStatus().GetPhase() == want }
}

func ready(p *skiffv1.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func container(p *skiffv1.Pod) *skiffv1.ContainerStatus {
	if cs := p.GetStatus().GetContainerStatuses(); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// watchWaitingReasons records, through a watch, every distinct waiting
// reason the pod's first container goes through, in order.
func (h *harness) watchWaitingReasons(name string) func() []string {
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	// From a listed revision, not from whenever the server starts the
	// watch: the pod's first states may come before that.
	opts := client.ListOptions{FieldSelector: "metadata.name=" + name}
	_, rv, err := h.c.Pods().List(ctx, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	w, err := h.c.Pods().Watch(ctx, opts, rv)
	if err != nil {
		h.t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	go func() {
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			r := container(ev.Object).GetState().GetWaiting().GetReason()
			mu.Lock()
			if r != "" && r != "ContainerCreating" && (len(seen) == 0 || seen[len(seen)-1] != r) {
				seen = append(seen, r)
			}
			mu.Unlock()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}
