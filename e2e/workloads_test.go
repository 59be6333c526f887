package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonSetAndStatefulSet runs apps/v1 DaemonSets and StatefulSets on
// a 3-node local cluster: a daemon pod on every node, following a cordon
// (it stays), a taint (it goes and comes back) and a node that leaves; a
// StatefulSet of 3 that comes up in order, whose pods find each other by
// their stable DNS names and keep their volume's data when deleted. A node
// joining later is TestClusterNodeJoinsAndLeaves' part (skiff cluster
// add-node).
func TestDaemonSetAndStatefulSet(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 3, lifecycleFlags...)
	t.Run("daemon set", func(t *testing.T) { testDaemonSet(t, c) })
	t.Run("stateful set", func(t *testing.T) { testStatefulSet(t, c) })
	t.Run("daemon set after a node leaves", func(t *testing.T) { testDaemonSetNodeLeaves(t, c) })
}

// daemonNodes maps each node to how many ready pods of app=agent it has.
func daemonNodes(c Cluster) (map[string]int, error) {
	ps, err := pods(c, "app=agent")
	out := map[string]int{}
	for _, p := range ps {
		if p.Ready {
			out[p.Node]++
		} else {
			out["not ready"]++
		}
	}
	return out, err
}

func waitDaemonNodes(t *testing.T, c Cluster, want ...string) {
	t.Helper()
	sort.Strings(want)
	eventually2(t, 2*time.Minute, fmt.Sprintf("one ready daemon pod on each of %v", want), func() error {
		got, err := daemonNodes(c)
		if err != nil {
			return err
		}
		var nodes []string
		for n, k := range got {
			if k != 1 {
				return fmt.Errorf("pods by node %v", got)
			}
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		if strings.Join(nodes, ",") != strings.Join(want, ",") {
			return fmt.Errorf("pods by node %v", got)
		}
		return nil
	})
}

func testDaemonSet(t *testing.T, c MultiNode) {
	start := time.Now()
	apply(t, c, fmt.Sprintf(`apiVersion: apps/v1
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
`, c.Image()))
	waitDaemonNodes(t, c, "node-1", "node-2", "node-3")
	t.Logf("a daemon pod ready on each of 3 nodes %s after apply", time.Since(start).Round(time.Second))
	eventually(t, "get ds shows 3 desired, ready and available", func() error {
		out, err := c.Skiff("get", "ds")
		if err != nil || !strings.Contains(out, "agent   3         3         3       3            3           <none>") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})

	// A NoExecute taint the pod does not tolerate sends it away; a cordon
	// does not.
	if out, err := c.Skiff("cordon", "node-2"); err != nil {
		t.Fatalf("cordon: %v %s", err, out)
	}
	if out, err := c.Skiff("taint", "node-3", "dedicated=db:NoExecute"); err != nil {
		t.Fatalf("taint: %v %s", err, out)
	}
	waitDaemonNodes(t, c, "node-1", "node-2")
	if out, err := c.Skiff("taint", "node-3", "dedicated=db:NoExecute-"); err != nil {
		t.Fatalf("untaint: %v %s", err, out)
	}
	waitDaemonNodes(t, c, "node-1", "node-2", "node-3")
	if out, err := c.Skiff("uncordon", "node-2"); err != nil {
		t.Fatalf("uncordon: %v %s", err, out)
	}

	if out, err := c.Skiff("rollout", "status", "ds/agent", "--timeout", "60s"); err != nil || !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
}

// A node that leaves the cluster loses its daemon pod, and the daemon set
// counts one node fewer.
func testDaemonSetNodeLeaves(t *testing.T, c MultiNode) {
	waitDaemonNodes(t, c, "node-1", "node-2", "node-3")
	c.Signal("node-3", "agent", syscall.SIGKILL)
	if out, err := c.Skiff("delete", "node", "node-3"); err != nil {
		t.Fatalf("delete node: %v %s", err, out)
	}
	waitDaemonNodes(t, c, "node-1", "node-2")
	eventually(t, "get ds shows 2 desired", func() error {
		out, err := c.Skiff("get", "ds")
		if err != nil || !strings.Contains(out, "agent   2         2         2       2            2           <none>") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
}

// podJSON reads one pod's creation time and when it turned Ready.
func podTimes(c Cluster, name string) (created, ready time.Time, err error) {
	out, err := c.Skiff("get", "pod", name, "-o", "json")
	if err != nil {
		return created, ready, fmt.Errorf("%v: %s", err, out)
	}
	var p struct {
		Metadata struct{ CreationTimestamp time.Time }
		Status   struct {
			Conditions []struct {
				Type, Status       string
				LastTransitionTime time.Time
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		return created, ready, err
	}
	for _, cnd := range p.Status.Conditions {
		if cnd.Type == "Ready" && cnd.Status == "True" {
			ready = cnd.LastTransitionTime
		}
	}
	return p.Metadata.CreationTimestamp, ready, nil
}

func testStatefulSet(t *testing.T, c MultiNode) {
	start := time.Now()
	// Each pod appends a line to its own volume on every start, then
	// serves it.
	apply(t, c, statefulWebYAML(c.Image(), "OrderedReady"))
	ps := waitPods(t, c, "app=nginx", 3)
	t.Logf("3 stateful pods ready %s after apply", time.Since(start).Round(time.Second))
	ips := map[string]string{}
	for _, p := range ps {
		ips[p.Name] = p.IP
	}
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		if ips[n] == "" {
			t.Fatalf("no ready pod %s: %+v", n, ps)
		}
	}
	// Ordered: each pod made only after the one before was Ready.
	for i := 1; i < 3; i++ {
		created, _, err := podTimes(c, fmt.Sprintf("web-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		_, prevReady, err := podTimes(c, fmt.Sprintf("web-%d", i-1))
		if err != nil {
			t.Fatal(err)
		}
		if created.Before(prevReady.Truncate(time.Second)) {
			t.Errorf("web-%d made at %v, before web-%d was Ready at %v", i, created, i-1, prevReady)
		}
	}
	if out, err := c.Skiff("get", "sts"); err != nil || !strings.Contains(out, "web    3/3") {
		t.Fatalf("get sts: %v\n%s", err, out)
	}
	// Stable DNS names through the headless service.
	eventually(t, "web-0 resolves web-2.nginx.default.svc.cluster.local to web-2's IP", func() error {
		out, err := c.Skiff("exec", "web-0", "--", "nslookup", "web-2.nginx.default.svc.cluster.local")
		if err != nil || !strings.Contains(out, ips["web-2"]) {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("exec", "web-1", "--", "hostname"); err != nil || strings.TrimSpace(out) != "web-1" {
		t.Errorf("web-1's hostname: %v %q", err, out)
	}
	if out, err := c.Skiff("exec", "web-1", "--", "cat", "/etc/hosts"); err != nil || !strings.Contains(out, ips["web-1"]+"\tweb-1.nginx.default.svc.cluster.local web-1") {
		t.Errorf("web-1's /etc/hosts lacks its FQDN: %v\n%s", err, out)
	}

	// A deleted pod comes back under its name, its DNS name and its data.
	oldNode := podByName(ps, "web-1").Node
	deleted := time.Now()
	if out, err := c.Skiff("delete", "pod", "web-1", "--wait"); err != nil {
		t.Fatalf("delete pod: %v %s", err, out)
	}
	var again podInfo
	eventually2(t, 2*time.Minute, "web-1 back and ready", func() error {
		ps, err := pods(c, "app=nginx")
		if err != nil {
			return err
		}
		again = podByName(ps, "web-1")
		if !again.Ready {
			return fmt.Errorf("web-1: %+v", again)
		}
		return nil
	})
	t.Logf("web-1 back and ready %s after its deletion", time.Since(deleted).Round(time.Second))
	if again.Node != oldNode {
		t.Errorf("web-1 came back on %s; its local volume is on %s", again.Node, oldNode)
	}
	out, err := c.Skiff("exec", "web-1", "--", "cat", "/data/boots")
	if err != nil || out != "started as web-1\nstarted as web-1\n" {
		t.Fatalf("web-1's volume after a restart: %v %q (want two starts)", err, out)
	}
	eventually(t, "web-0 resolves web-1 to its new IP", func() error {
		out, err := c.Skiff("exec", "web-0", "--", "nslookup", "web-1.nginx.default.svc.cluster.local")
		if err != nil || !strings.Contains(out, again.IP) {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	// Scale down from the highest ordinal; the volume stays for later.
	if out, err := c.Skiff("scale", "sts", "web", "--replicas", "2"); err != nil {
		t.Fatalf("scale: %v %s", err, out)
	}
	waitPods(t, c, "app=nginx", 2)
	if ps, _ := pods(c, "app=nginx"); podByName(ps, "web-2").Name != "" {
		t.Errorf("scaled down but web-2 is still there: %+v", ps)
	}
	if out, err := c.Skiff("get", "pvc", "data-web-2"); err != nil {
		t.Errorf("data-web-2 went with its pod: %v %s", err, out)
	}
}
