package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// daemonSetYAML is a DaemonSet of a ready-probed httpd, app=agent.
func daemonSetYAML(image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: agent
        image: %s
        command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
        resources:
          requests: {cpu: 10m, memory: 8Mi}
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
`, image)
}

// TestClusterNodeJoinsAndLeaves grows a 2-node local cluster by a node
// with `skiff cluster add-node` (kind's and k3d's `node create`): a
// DaemonSet puts its pod on the new node; `skiff cluster remove-node`
// takes it away again with its pod, its Node and everything it made on
// the host.
func TestClusterNodeJoinsAndLeaves(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 2)
	t.Cleanup(func() {
		if t.Failed() {
			if data, err := os.ReadFile(filepath.Join(c.nodeDir("node-3"), "agent.log")); err == nil {
				t.Logf("--- node-3 agent log (tail):\n%s", tail(string(data), 40))
			}
		}
	})
	apply(t, c, daemonSetYAML(c.Image()))
	waitDaemonNodes(t, c, "node-1", "node-2")

	start := time.Now()
	out, err := c.clusterCmd("cluster", "add-node", "node-3", "--name", c.name)
	if err != nil || !strings.Contains(out, `Node "node-3" joined cluster`) {
		t.Fatalf("add-node: %v\n%s", err, out)
	}
	t.Logf("node-3 added and Ready in %s", time.Since(start).Round(100*time.Millisecond))
	if out, err := c.clusterCmd("cluster", "add-node", "node-3", "--name", c.name); err == nil || !strings.Contains(out, `already has a node "node-3"`) {
		t.Errorf("adding node-3 twice: %v\n%s", err, out)
	}
	if out, err := c.clusterCmd("cluster", "add-node", "Bad_Name", "--name", c.name); err == nil || !strings.Contains(out, `node name "Bad_Name"`) {
		t.Errorf("a bad node name: %v\n%s", err, out)
	}
	waitDaemonNodes(t, c, "node-1", "node-2", "node-3")
	t.Logf("a daemon pod ready on node-3 %s after add-node began", time.Since(start).Round(100*time.Millisecond))
	if out, err := c.Skiff("get", "ds"); err != nil || !strings.Contains(out, "agent   3         3         3       3            3           <none>") {
		t.Errorf("get ds after the join: %v\n%s", err, out)
	}
	// The new node's pod is reachable from the others (routes to its pod
	// network were added).
	ps, err := pods(c, "app=agent")
	if err != nil {
		t.Fatal(err)
	}
	from, to := "", ""
	for _, p := range ps {
		switch p.Node {
		case "node-3":
			to = p.IP
		case "node-1":
			from = p.Name
		}
	}
	eventually(t, "node-1's daemon pod reaches node-3's", func() error {
		out, err := c.Skiff("exec", from, "--", "wget", "-q", "-T", "2", "-O", "-", "http://"+to+":8080/")
		if err != nil && !strings.Contains(err.Error(), "404") {
			return fmt.Errorf("%v %s", err, out)
		}
		return nil
	})
	if out, err := c.clusterCmd("cluster", "list"); err != nil || !strings.Contains(out, c.name+"   3 ") {
		t.Errorf("cluster list after add-node: %v\n%s", err, out)
	}

	// Stop and start bring the added node back too.
	c.Stop()
	c.Start()
	waitDaemonNodes(t, c, "node-1", "node-2", "node-3")

	if out, err := c.clusterCmd("cluster", "remove-node", "node-1", "--name", c.name); err == nil || !strings.Contains(out, "runs the cluster's server") {
		t.Errorf("removing the server's node: %v\n%s", err, out)
	}
	start = time.Now()
	if out, err := c.clusterCmd("cluster", "remove-node", "node-3", "--name", c.name); err != nil {
		t.Fatalf("remove-node: %v\n%s", err, out)
	}
	t.Logf("node-3 removed in %s", time.Since(start).Round(100*time.Millisecond))
	waitDaemonNodes(t, c, "node-1", "node-2")
	eventually(t, "get ds shows 2 desired after the removal", func() error {
		out, err := c.Skiff("get", "ds")
		if err != nil || !strings.Contains(out, "agent   2         2         2       2            2           <none>") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("get", "nodes"); err != nil || strings.Contains(out, "node-3") {
		t.Errorf("get nodes after remove-node: %v\n%s", err, out)
	}
	if _, err := os.Stat(fmt.Sprintf("/run/netns/skiff-%s-node-3", c.name)); !os.IsNotExist(err) {
		t.Errorf("node-3's namespace after remove-node: %v", err)
	}
	if _, err := os.Stat(c.nodeDir("node-3")); !os.IsNotExist(err) {
		t.Errorf("node-3's files after remove-node: %v", err)
	}
	// The name may join again, as a new node.
	if out, err := c.clusterCmd("cluster", "add-node", "node-3", "--name", c.name); err != nil {
		t.Fatalf("add-node after remove-node: %v\n%s", err, out)
	}
	waitDaemonNodes(t, c, "node-1", "node-2", "node-3")
}
