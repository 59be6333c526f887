package nodeagent

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/nodeagent/network"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
)

// fakeRuntime keeps containers and sandboxes in memory: Start marks a
// container running, Stop exited; exit ends one as a crash would.
type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]*runtime.State
	sandboxes  map[string]runtime.Sandbox
	stopped    []string // IDs, in the order Stop was called
	// execCodes is the exit code of an exec by its command's first word
	// (0 when absent); calls logs "exec ID CMD…" and "stop ID" in order.
	execCodes map[string]int
	calls     []string
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{containers: map[string]*runtime.State{}, sandboxes: map[string]runtime.Sandbox{}}
}

func (f *fakeRuntime) CreateSandbox(spec runtime.SandboxSpec) (runtime.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sandboxes[spec.ID]; ok {
		return runtime.Sandbox{}, fmt.Errorf("sandbox %s: %w", spec.ID, runtime.ErrExists)
	}
	sb := runtime.Sandbox{ID: spec.ID, NetNS: "/fake/netns/" + spec.ID}
	f.sandboxes[spec.ID] = sb
	return sb, nil
}

func (f *fakeRuntime) Sandbox(id string) (runtime.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb, ok := f.sandboxes[id]
	if !ok {
		return runtime.Sandbox{}, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	return sb, nil
}

func (f *fakeRuntime) RemoveSandbox(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sandboxes, id)
	return nil
}

// reboot ends every container (their state says unknown) and every
// sandbox.
func (f *fakeRuntime) reboot() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.sandboxes)
	for _, c := range f.containers {
		if c.Status == runtime.StatusRunning {
			c.Status, c.FinishedAt, c.Pid = runtime.StatusUnknown, time.Now(), 0
		}
	}
}

func (f *fakeRuntime) SandboxIDs() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := map[string]bool{}
	for id := range f.sandboxes {
		set[id] = true
	}
	for _, c := range f.containers {
		set[c.SandboxID] = true
	}
	var ids []string
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

func (f *fakeRuntime) Create(_ context.Context, spec runtime.ContainerSpec) (runtime.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[spec.ID]; ok {
		return runtime.State{}, runtime.ErrExists
	}
	st := &runtime.State{
		ID: spec.ID, SandboxID: spec.SandboxID, Name: spec.Name, Attempt: spec.Attempt, Labels: spec.Labels,
		Status: runtime.StatusCreated, CreatedAt: time.Now(),
	}
	f.containers[spec.ID] = st
	return *st, nil
}

func (f *fakeRuntime) Start(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	c.Status, c.StartedAt, c.Pid = runtime.StatusRunning, time.Now(), 1000
	return nil
}

func (f *fakeRuntime) Stop(_ context.Context, id string, sig syscall.Signal, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, id)
	f.calls = append(f.calls, "stop "+id)
	c, ok := f.containers[id]
	if !ok {
		return runtime.ErrNotFound
	}
	if c.Status != runtime.StatusRunning {
		return runtime.ErrNotRunning
	}
	c.Status, c.Signal, c.FinishedAt, c.Pid = runtime.StatusExited, int(sig), time.Now(), 0
	return nil
}

// exit ends a running container with code, as if it had crashed.
func (f *fakeRuntime) exit(id string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.Status, c.ExitCode, c.FinishedAt, c.Pid = runtime.StatusExited, code, time.Now(), 0
}

// age moves a container's start and end d into the past.
func (f *fakeRuntime) age(id string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.StartedAt, c.FinishedAt = c.StartedAt.Add(-d), c.FinishedAt.Add(-d)
}

func (f *fakeRuntime) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[id]; !ok {
		return runtime.ErrNotFound
	}
	delete(f.containers, id)
	return nil
}

// Wait returns at once for a container that is not running; a running
// one's wait lasts until ctx ends, as the tests end fake containers by
// changing their state, not through a process exit.
func (f *fakeRuntime) Wait(ctx context.Context, id string) (runtime.State, error) {
	f.mu.Lock()
	c, ok := f.containers[id]
	var st runtime.State
	if ok {
		st = *c
	}
	f.mu.Unlock()
	if !ok {
		return runtime.State{}, runtime.ErrNotFound
	}
	if st.Status == runtime.StatusRunning {
		<-ctx.Done()
		return runtime.State{}, ctx.Err()
	}
	return st, nil
}

func (f *fakeRuntime) List() ([]runtime.State, error) { return f.list("") }

func (f *fakeRuntime) ListSandbox(sandboxID string) ([]runtime.State, error) {
	return f.list(sandboxID)
}

func (f *fakeRuntime) list(sandboxID string) ([]runtime.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.State
	for _, c := range f.containers {
		if sandboxID == "" || c.SandboxID == sandboxID {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attempt < out[j].Attempt })
	return out, nil
}

// ids lists the containers there are, sorted.
func (f *fakeRuntime) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.containers {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (f *fakeRuntime) state(id string) (runtime.State, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return runtime.State{}, false
	}
	return *c, true
}

func (f *fakeRuntime) Stats(string) (runtime.Stats, error) { return runtime.Stats{}, nil }

func (f *fakeRuntime) Exec(_ context.Context, id string, spec runtime.ExecSpec) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(append([]string{"exec", id}, spec.Command...), " "))
	if len(spec.Command) == 0 {
		return 0, nil
	}
	return f.execCodes[spec.Command[0]], nil
}

func (f *fakeRuntime) setExecCode(cmd string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.execCodes == nil {
		f.execCodes = map[string]int{}
	}
	f.execCodes[cmd] = code
}

func (f *fakeRuntime) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeRuntime) Close() error { return nil }

// fakeImages has every image, unpacked in one fake layer.
type fakeImages struct {
	mu    sync.Mutex
	pulls int
}

func (f *fakeImages) Get(ref string) (image.Image, error) {
	return image.Image{Ref: ref, Digest: "sha256:fake", LayerDirs: []string{"/fake/layer"}}, nil
}

func (f *fakeImages) PullWithAuth(_ context.Context, ref string, _ image.PullPolicy, _ image.Auth, _ image.ProgressFunc) (image.Image, error) {
	f.mu.Lock()
	f.pulls++
	f.mu.Unlock()
	return f.Get(ref)
}

func (f *fakeImages) GC([]string, int64) (image.GCResult, error) { return image.GCResult{}, nil }

// fakeNetwork gives every pod the same address and records detaches.
type fakeNetwork struct {
	mu       sync.Mutex
	attached map[string]bool
}

var fakePodIP = netip.MustParseAddr("10.88.0.5")

func (f *fakeNetwork) Attach(_ context.Context, podID, _ string) (network.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attached == nil {
		f.attached = map[string]bool{}
	}
	f.attached[podID] = true
	return network.Attachment{PodID: podID, IP: fakePodIP, Gateway: f.Gateway(), PrefixLen: 24}, nil
}

func (f *fakeNetwork) Detach(_ context.Context, podID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.attached, podID)
	return nil
}

func (f *fakeNetwork) isAttached(podID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attached[podID]
}

func (f *fakeNetwork) Gateway() netip.Addr                                       { return netip.MustParseAddr("10.88.0.1") }
func (f *fakeNetwork) EnsureMasquerade() error                                   { return nil }
func (f *fakeNetwork) SetPeerRoutes([]network.PeerRoute) error                   { return nil }
func (f *fakeNetwork) SetHostPorts(string, netip.Addr, []network.HostPort) error { return nil }
func (f *fakeNetwork) RemoveHostPorts(string) error                              { return nil }

func (f *fakeRuntime) Attach(_ context.Context, id string, _ runtime.AttachSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "attach "+id)
	return nil
}
