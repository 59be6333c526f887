package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/teardown"
)

// AddNode adds a node to a running cluster, as `kind`'s and k3d's `node
// create` do: its namespaces and port on the lab bridge, its data dirs
// and an agent that joins with the cluster's token. It returns once the
// node is Ready; the controllers then treat it as any node that joins
// (a DaemonSet's pod lands on it).
func AddNode(ctx context.Context, name, node string, o Options) (Info, error) {
	o = o.withDefaults()
	if err := ValidateNodeName(node); err != nil {
		return Info{}, err
	}
	if os.Geteuid() != 0 {
		return Info{}, errors.New("cluster: needs root (network namespaces, containers)")
	}
	unlock, err := lockRoots(o.Roots)
	if err != nil {
		return Info{}, err
	}
	l, err := load(o.Roots, name)
	if err != nil {
		unlock()
		return Info{}, err
	}
	if l.spec.VM != nil {
		unlock()
		return Info{}, fmt.Errorf("cluster %q: its nodes are VMs; add-node makes namespace nodes only", name)
	}
	// Checked before the node is counted: its agent does not run yet.
	if st := l.info().State; st != "running" {
		unlock()
		return Info{}, fmt.Errorf("cluster %q is %s: start it first (skiff cluster start --name %s)", name, st, name)
	}
	m, err := l.addMember(node)
	if err == nil {
		// A removed node of the same name may have left files behind
		// (a remove that failed half-way); a new node starts empty.
		if _, serr := os.Stat(l.nodeDir(node)); serr == nil {
			err = fmt.Errorf("node %s: %s is left from an earlier node of that name; delete that directory first", node, l.nodeDir(node))
		}
	}
	if err == nil {
		err = l.provisionAgent(l.Server(), m)
	}
	if err == nil {
		err = l.save()
	}
	unlock()
	if err != nil {
		return Info{}, err
	}
	t0 := time.Now()
	fmt.Fprintf(o.Progress, "Adding node %q to cluster %q (%s)\n", node, name, l.nodeAddr(m.Host))
	d := l.daemonOf(node)
	// From here the node is part of the cluster's spec: say how to look
	// and how to take it out again.
	failed := func(err error) (Info, error) {
		return l.info(), fmt.Errorf("%w\nnode %q stays in cluster %q: its agent's log is %s; take it out with `sudo skiff cluster remove-node %s --name %s`",
			err, node, name, d.logFile(), node, name)
	}
	if err := l.ensureNetwork(); err != nil {
		return failed(fmt.Errorf("cluster %s: network: %w", name, err))
	}
	fmt.Fprintf(o.Progress, " ✓ network %s\n", since(t0))
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c, err := l.client(ctx)
	if err != nil {
		return failed(err)
	}
	defer c.Close()
	if _, err := d.start(o.Binary); err != nil {
		return failed(err)
	}
	if err := l.waitNodes(ctx, c, map[string]bool{node: true}, t0.Add(-time.Second)); err != nil {
		return failed(err)
	}
	fmt.Fprintf(o.Progress, " ✓ node %s Ready %s\n", node, since(t0))
	return l.info(), nil
}

// addMember gives node the lowest free host number and records it in the
// spec (not yet saved).
func (l *layout) addMember(node string) (Member, error) {
	ms := l.members()
	used := map[int]bool{}
	for _, m := range ms {
		if m.Name == node {
			return Member{}, fmt.Errorf("cluster %q already has a node %q", l.spec.Name, node)
		}
		used[m.Host] = true
	}
	if other, ok := l.netnsTakenElsewhere(node); ok {
		return Member{}, fmt.Errorf("node name %q: its network namespace %s is cluster %q's; choose another name", node, l.netnsName(node), other)
	}
	m := Member{Name: node}
	for h := 2; h <= maxHost; h++ {
		if !used[h] {
			m.Host = h
			break
		}
	}
	if m.Host == 0 {
		return Member{}, fmt.Errorf("cluster %q: no free address on its lab subnet for another node", l.spec.Name)
	}
	l.spec.Members = append(append([]Member(nil), ms...), m)
	l.spec.Nodes = len(l.spec.Members)
	return m, nil
}

// daemonOf is the agent daemon of node.
func (l layout) daemonOf(node string) daemon {
	return daemon{node: node, role: "agent", dir: l.nodeDir(node), netns: l.netnsPath(node), uts: l.utsFile(node)}
}

// RemoveNode takes a node out of a cluster, as a machine that is switched
// off for good and deleted from the cluster: its agent stops, its Node
// object is deleted (its pods go with it, as Kubernetes' pod garbage
// collector removes pods of a deleted node, and its certificates are
// revoked), then its containers, mounts, namespaces and files. A machine
// that runs a server cannot be removed.
func RemoveNode(ctx context.Context, name, node string, o Options) error {
	o = o.withDefaults()
	l, err := load(o.Roots, name)
	if err != nil {
		return err
	}
	if l.spec.VM != nil {
		return fmt.Errorf("cluster %q: its nodes are VMs; remove-node takes namespace nodes only", name)
	}
	m, ok := l.member(node)
	if !ok {
		return fmt.Errorf("cluster %q has no node %q (its nodes: %v)", name, node, l.nodes())
	}
	if l.isServer(m) && l.several() {
		return fmt.Errorf("%q runs one of the cluster's servers and cannot be removed (skiff cluster delete --name %s removes the whole cluster)", node, name)
	}
	if l.isServer(m) {
		return fmt.Errorf("node %q runs the cluster's server and cannot be removed (skiff cluster delete --name %s removes the whole cluster)", node, name)
	}
	fmt.Fprintf(o.Progress, "Removing node %q from cluster %q\n", node, name)
	t0 := time.Now()
	if err := l.daemonOf(node).stop(o.Grace); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, " ✓ agent stopped %s\n", since(t0))
	if err := l.deleteNode(ctx, node); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, " ✓ Node deleted %s\n", since(t0))
	var errs []error
	if err := l.teardownNode(node).Reset(ctx, func(what string) { fmt.Fprintf(o.Progress, " - %s: %s\n", node, what) }); err != nil {
		errs = append(errs, err)
	}
	if isNamespace(l.netnsPath(node)) {
		teardown.KillInNetNS(l.netnsPath(node))
	}
	if _, err := teardown.UnmountUnder(l.nodeRunDir(node), l.nodeDir(node)); err != nil {
		errs = append(errs, err)
	}
	if err := l.removeNodeNetwork(node); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("node %s: left its files in %s: %w", node, l.nodeDir(node), errors.Join(errs...))
	}
	unlock, err := lockRoots(o.Roots)
	if err != nil {
		return err
	}
	defer unlock()
	if l, err = load(o.Roots, name); err != nil {
		return err
	}
	var kept []Member
	for _, m := range l.members() {
		if m.Name != node {
			kept = append(kept, m)
		}
	}
	l.spec.Members, l.spec.Nodes = kept, len(kept)
	if err := l.save(); err != nil {
		return err
	}
	if err := os.RemoveAll(l.nodeRunDir(node)); err != nil {
		return err
	}
	if err := os.RemoveAll(l.nodeDir(node)); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, " ✓ node %s removed %s\n", node, since(t0))
	return nil
}

// deleteNode deletes node's Node object and waits until no pod is bound
// to it any more. A server that does not answer is an error: the node's
// pods would stay in the API for good.
func (l layout) deleteNode(ctx context.Context, node string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, _, err := c.Nodes().Delete(ctx, "", node, client.DeleteOptions{}); err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("node %s: delete its Node (is the cluster running?): %w", node, err)
	}
	for {
		pods, _, err := c.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err == nil && len(pods) == 0 {
			return nil
		}
		if err == nil {
			// Pods of a gone node are the pod collector's; it may not
			// have run yet.
			for _, p := range pods {
				c.Pods().Delete(ctx, p.Metadata.Namespace, p.Metadata.Name, client.DeleteOptions{UID: p.GetMetadata().GetUid(), Force: true})
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s: pods still bound to it: %w", node, errors.Join(err, ctx.Err()))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
