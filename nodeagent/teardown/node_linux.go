package teardown

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/skiff-sh/skiff/nodeagent/network"
	"github.com/skiff-sh/skiff/nodeagent/proxy"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

// Node says where one node agent kept its things: the agent's --data-dir
// and --run-dir, and the network namespace that plays the node.
type Node struct {
	DataDir string
	RunDir  string
	// NetNS is the path of the node's network namespace; empty means the
	// caller's own.
	NetNS string
	// Bridge is the node bridge; empty means network.DefaultBridge.
	Bridge string
	// SkipNetwork leaves the network namespace alone (a caller that
	// deletes the namespace anyway).
	SkipNetwork bool
}

// runtimeConfig is where the agent's runtime keeps container state and
// pinned sandbox namespaces (nodeagent.New's layout).
func (n Node) runtimeConfig() runtime.Config {
	return runtime.Config{StateDir: filepath.Join(n.DataDir, "runtime"), RunDir: filepath.Join(n.RunDir, "runtime")}
}

// openRuntime opens the node's runtime; nil when it holds no state (so
// nothing is made on a machine without skiff).
func (n Node) openRuntime() (*runtime.Runtime, error) {
	cfg := n.runtimeConfig()
	if !runtime.HasState(cfg) {
		return nil, nil
	}
	rt, err := runtime.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("teardown: %w", err)
	}
	return rt, nil
}

// SandboxIDs are the pods (by UID) the node's runtime still holds state
// of: pinned namespaces or containers. None when the node has no runtime
// state.
func (n Node) SandboxIDs() ([]string, error) {
	rt, err := n.openRuntime()
	if err != nil || rt == nil {
		return nil, err
	}
	defer rt.Close()
	return rt.SandboxIDs()
}

// Reset ends and removes every container and sandbox of the node through
// the runtime (killing their supervisors and processes, removing their
// cgroups and pinned namespaces), detaches every mount left under the
// node's directories, and removes skiff's links, routes and nftables
// table from its network namespace. It reports each thing removed on
// report and keeps going past failures, which it returns together. The
// directories themselves stay: the caller decides which go.
func (n Node) Reset(ctx context.Context, report func(string)) error {
	var errs []error
	if err := n.removeContainers(ctx, report); err != nil {
		errs = append(errs, err)
	}
	unmounted, err := UnmountUnder(n.DataDir, n.RunDir)
	for _, p := range unmounted {
		report("unmounted " + p)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if !n.SkipNetwork {
		removed, err := network.Teardown(n.NetNS, n.Bridge)
		for _, r := range removed {
			report("removed " + r)
		}
		if err != nil {
			errs = append(errs, err)
		}
		if found, err := proxy.RemoveIfPresent(n.NetNS); err != nil {
			errs = append(errs, err)
		} else if found {
			report("removed nftables table ip " + proxy.Table)
		}
	}
	return errors.Join(errs...)
}

// removeContainers removes containers first, then sandboxes (a sandbox's
// containers must be gone before it). Every sandbox the runtime knows of,
// by pinned namespaces or by its containers' state (after a reboot only
// that is left), goes with its pod cgroups.
func (n Node) removeContainers(ctx context.Context, report func(string)) error {
	rt, err := n.openRuntime()
	if err != nil || rt == nil {
		return err
	}
	defer rt.Close()
	var errs []error
	sandboxes, err := rt.SandboxIDs()
	if err != nil {
		errs = append(errs, err)
	}
	containers, err := rt.List()
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range containers {
		if err := rt.Remove(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		report(fmt.Sprintf("removed container %s (%s)", c.ID, c.Status))
	}
	for _, id := range sandboxes {
		if err := rt.RemoveSandbox(id); err != nil {
			errs = append(errs, err)
			continue
		}
		report("removed sandbox " + id)
	}
	return errors.Join(errs...)
}

// CgroupParents lists skiff's default parent cgroups that exist: one
// under each v1 controller, or v2's.
func CgroupParents() []string {
	dirs, _ := filepath.Glob(filepath.Join(cgroups.DefaultRoot, "*", cgroups.DefaultParent))
	if v2 := filepath.Join(cgroups.DefaultRoot, cgroups.DefaultParent); isDir(v2) {
		dirs = append(dirs, v2)
	}
	return dirs
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// RemoveEmptyCgroupParents removes skiff's parent cgroup under each
// controller when no pod of any agent is left in it (rmdir refuses a
// cgroup with children).
func RemoveEmptyCgroupParents(report func(string)) {
	for _, d := range CgroupParents() {
		if os.Remove(d) == nil {
			report("removed cgroup " + d)
		}
	}
}
