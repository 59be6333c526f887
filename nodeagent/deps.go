package nodeagent

import (
	"context"
	"net/netip"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/nodeagent/network"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
)

// The agent's pod sync depends on these three small interfaces, not on the
// packages behind them, so its decisions (start, restart, back off, tear
// down) can be tested with fakes and no kernel; New wires the real ones.

// containerRuntime runs sandboxes and containers (*runtime.Runtime).
type containerRuntime interface {
	CreateSandbox(spec runtime.SandboxSpec) (runtime.Sandbox, error)
	Sandbox(id string) (runtime.Sandbox, error)
	RemoveSandbox(id string) error
	SandboxIDs() ([]string, error)

	Create(ctx context.Context, spec runtime.ContainerSpec) (runtime.State, error)
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, sig syscall.Signal, timeout time.Duration) error
	Remove(ctx context.Context, id string) error
	Wait(ctx context.Context, id string) (runtime.State, error)
	List() ([]runtime.State, error)
	ListSandbox(sandboxID string) ([]runtime.State, error)
	Stats(id string) (runtime.Stats, error)
	Exec(ctx context.Context, id string, spec runtime.ExecSpec) (int, error)
	Attach(ctx context.Context, id string, spec runtime.AttachSpec) error
	Close() error
}

// imageStore has the images containers run from (*image.Store).
type imageStore interface {
	Get(ref string) (image.Image, error)
	PullWithAuth(ctx context.Context, ref string, policy image.PullPolicy, auth image.Auth, progress image.ProgressFunc) (image.Image, error)
	GC(inUse []string, maxBytes int64) (image.GCResult, error)
}

// podNetwork plugs pods into the node's network (*network.Network).
type podNetwork interface {
	Attach(ctx context.Context, podID, netnsPath string) (network.Attachment, error)
	Detach(ctx context.Context, podID, netnsPath string) error
	Gateway() netip.Addr
	EnsureMasquerade() error
	SetPeerRoutes(routes []network.PeerRoute) error
	SetHostPorts(podID string, podIP netip.Addr, ports []network.HostPort) error
	RemoveHostPorts(podID string) error
}

var (
	_ containerRuntime = (*runtime.Runtime)(nil)
	_ imageStore       = (*image.Store)(nil)
	_ podNetwork       = (*network.Network)(nil)
)
