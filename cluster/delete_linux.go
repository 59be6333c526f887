package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/teardown"
)

// Delete removes a cluster and everything it made: its pods first,
// through the API, so each agent tears its containers, mounts and cgroups
// down the way it always does; then its processes, namespaces, veths and
// files. What the agents could not remove (a node that would not start)
// is removed by hand: the pods' processes and cgroups, mounts under the
// cluster's directories.
func Delete(ctx context.Context, name string, o Options) error {
	o = o.withDefaults()
	l, err := load(o.Roots, name)
	if err != nil {
		return err
	}
	if l.spec.VM != nil {
		return l.deleteVM(o)
	}
	var errs []error
	if l.info().State != "running" {
		fmt.Fprintf(o.Progress, "Starting %q to let its agents remove its pods\n", name)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := l.start(sctx, o, false); err != nil {
			fmt.Fprintf(o.Progress, " ! %v (cleaning up by hand)\n", err)
		}
		cancel()
	}
	if err := l.deletePods(ctx); err != nil {
		fmt.Fprintf(o.Progress, " ! pods: %v (cleaning up by hand)\n", err)
	}
	if err := l.stop(o); err != nil {
		errs = append(errs, err)
	}
	if err := l.removeLeftovers(ctx, o); err != nil {
		errs = append(errs, err)
	}
	if err := l.removeNetwork(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("cluster %s: left its files in %s: %w", name, l.dir(), errors.Join(errs...))
	}
	if err := os.RemoveAll(l.runDir()); err != nil {
		return err
	}
	if err := os.RemoveAll(l.dir()); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, "Deleted cluster %q\n", name)
	return nil
}

// deletePods deletes every autoscaler, replica set and pod, then waits
// until no node has a sandbox or container left.
func (l layout) deletePods(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	all := client.ListOptions{}
	if as, _, err := c.Autoscalers().List(ctx, all); err == nil {
		for _, a := range as {
			c.Autoscalers().Delete(ctx, a.Metadata.Namespace, a.Metadata.Name, client.DeleteOptions{})
		}
	}
	// Deployments before their replica sets, which they would make again.
	if ds, _, err := c.Deployments().List(ctx, all); err == nil {
		for _, d := range ds {
			c.Deployments().Delete(ctx, d.Metadata.Namespace, d.Metadata.Name, client.DeleteOptions{})
		}
	}
	if rs, _, err := c.ReplicaSets().List(ctx, all); err == nil {
		for _, r := range rs {
			c.ReplicaSets().Delete(ctx, r.Metadata.Namespace, r.Metadata.Name, client.DeleteOptions{})
		}
	}
	// CronJobs before their Jobs, which they would make again.
	if cjs, _, err := c.CronJobs().List(ctx, all); err == nil {
		for _, j := range cjs {
			c.CronJobs().Delete(ctx, j.Metadata.Namespace, j.Metadata.Name, client.DeleteOptions{})
		}
	}
	// Jobs go first too, or they would make new pods; the controller then
	// releases their pods' tracking finalizers.
	if jobs, _, err := c.Jobs().List(ctx, all); err == nil {
		for _, j := range jobs {
			c.Jobs().Delete(ctx, j.Metadata.Namespace, j.Metadata.Name, client.DeleteOptions{})
		}
	}
	// Daemon sets and stateful sets too: they would make their pods again.
	if dss, _, err := c.DaemonSets().List(ctx, all); err == nil {
		for _, d := range dss {
			c.DaemonSets().Delete(ctx, d.Metadata.Namespace, d.Metadata.Name, client.DeleteOptions{})
		}
	}
	if sts, _, err := c.StatefulSets().List(ctx, all); err == nil {
		for _, s := range sts {
			c.StatefulSets().Delete(ctx, s.Metadata.Namespace, s.Metadata.Name, client.DeleteOptions{})
		}
	}
	for {
		pods, _, err := c.Pods().List(ctx, all)
		if err != nil {
			return err
		}
		for _, p := range pods {
			c.Pods().Delete(ctx, p.Metadata.Namespace, p.Metadata.Name, client.DeleteOptions{Force: true})
		}
		// Only agents whose Node is registered can tear their pods down:
		// a deleted Node's certificates are revoked, so waiting for its
		// agent would only run out the timeout; removeLeftovers takes
		// what it left.
		nodes, _, err := c.Nodes().List(ctx, all)
		if err != nil {
			return err
		}
		var registered []string
		for _, n := range nodes {
			registered = append(registered, n.GetMetadata().GetName())
		}
		if len(pods) == 0 && len(l.podUIDs(registered)) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pods still on the nodes: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// podUIDs are the pods any of the given nodes of the cluster still has
// state of, as each node's runtime reports them.
func (l layout) podUIDs(nodes []string) []string {
	var out []string
	for _, node := range l.nodes() {
		if !slices.Contains(nodes, node) {
			continue
		}
		ids, _ := l.teardownNode(node).SandboxIDs()
		out = append(out, ids...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// teardownNode is where node's agent keeps its things.
func (l layout) teardownNode(node string) teardown.Node {
	return teardown.Node{
		DataDir: filepath.Join(l.nodeDir(node), "agent"), RunDir: l.nodeRunDir(node),
		NetNS: l.netnsPath(node), SkipNetwork: true,
	}
}

// removeLeftovers removes what the agents could not (a node that would
// not start): each node's containers, sandboxes, mounts and pod cgroups,
// the same way `skiff reset` does for a machine; then every process still
// in a node's network namespace (supervisors the runtime no longer knows)
// and any mount left under the cluster's directories. The nodes'
// namespaces go whole afterwards, so their links and routes are left to
// that.
func (l layout) removeLeftovers(ctx context.Context, o Options) error {
	var errs []error
	var netns []string
	for _, node := range l.nodes() {
		if err := l.teardownNode(node).Reset(ctx, func(what string) { fmt.Fprintf(o.Progress, " - %s: %s\n", node, what) }); err != nil {
			errs = append(errs, err)
		}
		if isNamespace(l.netnsPath(node)) {
			netns = append(netns, l.netnsPath(node))
		}
	}
	teardown.KillInNetNS(netns...)
	if _, err := teardown.UnmountUnder(l.runDir(), l.dir()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
