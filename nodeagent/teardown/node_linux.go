package teardown

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/skiff-sh/skiff/nodeagent/network"
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

// runtimeDirs are where the agent's runtime keeps container state and
// pinned sandbox namespaces (nodeagent.New's layout).
func (n Node) runtimeDirs() (state, run string) {
	return filepath.Join(n.DataDir, "runtime"), filepath.Join(n.RunDir, "runtime")
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
	}
	return errors.Join(errs...)
}

// removeContainers removes containers first, then sandboxes (a sandbox's
// containers must be gone before it). A pod cgroup whose sandbox state was
// lost is found by the IDs in either directory and removed too.
func (n Node) removeContainers(ctx context.Context, report func(string)) error {
	stateDir, runDir := n.runtimeDirs()
	if !exists(filepath.Join(stateDir, "containers")) && !exists(filepath.Join(runDir, "sandboxes")) {
		return nil
	}
	rt, err := runtime.New(runtime.Config{StateDir: stateDir, RunDir: runDir})
	if err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	defer rt.Close()
	var errs []error
	containers, err := rt.List()
	if err != nil {
		errs = append(errs, err)
	}
	pods := map[string]bool{}
	for _, c := range containers {
		if c.SandboxID != "" {
			pods[c.SandboxID] = true
		}
		if err := rt.Remove(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		report(fmt.Sprintf("removed container %s (%s)", c.ID, c.Status))
	}
	sandboxes, err := rt.ListSandboxes()
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range sandboxes {
		pods[id] = true
		if err := rt.RemoveSandbox(id); err != nil {
			errs = append(errs, err)
			continue
		}
		report("removed sandbox " + id)
	}
	for id := range pods {
		dirs, _ := filepath.Glob(filepath.Join(cgroups.DefaultRoot, "*", cgroups.DefaultParent, "pod-"+id))
		for _, d := range dirs {
			if err := RemoveCgroup(d); err != nil {
				errs = append(errs, err)
				continue
			}
			report("removed cgroup " + d)
		}
	}
	return errors.Join(errs...)
}

// RemoveEmptyCgroupParents removes skiff's parent cgroup under each
// controller when no pod of any agent is left in it (rmdir refuses a
// cgroup with children).
func RemoveEmptyCgroupParents(report func(string)) {
	dirs, _ := filepath.Glob(filepath.Join(cgroups.DefaultRoot, "*", cgroups.DefaultParent))
	dirs = append(dirs, filepath.Join(cgroups.DefaultRoot, cgroups.DefaultParent)) // cgroup v2
	for _, d := range dirs {
		if os.Remove(d) == nil {
			report("removed cgroup " + d)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
