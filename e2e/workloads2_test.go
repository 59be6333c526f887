package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
		out, err := wget(c, from, "http://"+to+":8080/")
		if err != nil || !strings.Contains(out, "Hello from skiff") {
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

// statefulWebYAML is a headless service and a StatefulSet of 3 whose pods
// append their hostname to their own volume at every start and serve it,
// started by the given podManagementPolicy.
func statefulWebYAML(image, podManagementPolicy string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: nginx}
  ports: [{name: web, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  podManagementPolicy: %s
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        command: ["sh", "-c", "echo started as $(hostname) >> /data/boots; exec /bin/httpd -f -p 8080 -h /data"]
        resources:
          requests: {cpu: 10m, memory: 8Mi}
        volumeMounts: [{name: data, mountPath: /data}]
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
`, podManagementPolicy, image)
}

// podMeta reads a pod's UID and labels.
func podMeta(c Cluster, name string) (uid string, labels map[string]string, err error) {
	out, err := c.Skiff("get", "pod", name, "-o", "json")
	if err != nil {
		return "", nil, err
	}
	var p struct {
		Metadata struct {
			Uid    string
			Labels map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		return "", nil, err
	}
	return p.Metadata.Uid, p.Metadata.Labels, nil
}

// podUID reads a pod's UID.
func podUID(c Cluster, name string) (string, error) {
	uid, _, err := podMeta(c, name)
	return uid, err
}

// waitBack waits until pod name is there again under a new UID, Ready.
func waitBack(t *testing.T, c Cluster, name, oldUID string) podInfo {
	t.Helper()
	var again podInfo
	eventually2(t, 90*time.Second, name+" back and ready", func() error {
		uid, err := podUID(c, name)
		if err != nil || uid == oldUID {
			return fmt.Errorf("uid %q: %v", uid, err)
		}
		ps, err := pods(c, "app=nginx")
		if err != nil {
			return err
		}
		again = podByName(ps, name)
		if !again.Ready || again.IP == "" {
			return fmt.Errorf("%s: %+v", name, again)
		}
		return nil
	})
	return again
}

// TestStatefulSetIdentityAndNodeLoss deletes each pod of a 3-replica
// StatefulSet in turn: each comes back under its name and hostname, on its
// node, with its stable DNS name pointing at its new address and the file
// it wrote to its volume before. Then the node holding one pod's local
// volume is lost: the pod is not moved; it is made again and waits,
// Pending with a reason naming the volume and the node, and once the node
// is back it runs there again with its data.
func TestStatefulSetIdentityAndNodeLoss(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 3, lifecycleFlags...)
	start := time.Now()
	apply(t, c, statefulWebYAML(c.Image(), "Parallel"))
	ps := waitPods(t, c, "app=nginx", 3)
	t.Logf("3 stateful pods (Parallel) ready %s after apply", time.Since(start).Round(time.Second))
	byName := map[string]podInfo{}
	for _, p := range ps {
		byName[p.Name] = p
	}

	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("web-%d", i)
		other := fmt.Sprintf("web-%d", (i+1)%3)
		fqdn := name + ".nginx.default.svc.cluster.local"
		before := byName[name]
		if out, err := c.Skiff("exec", name, "--", "sh", "-c", "echo note of "+name+" > /data/note"); err != nil {
			t.Fatalf("write %s's note: %v %s", name, err, out)
		}
		uid, err := podUID(c, name)
		if err != nil {
			t.Fatal(err)
		}
		deleted := time.Now()
		if out, err := c.Skiff("delete", "pod", name, "--wait"); err != nil {
			t.Fatalf("delete %s: %v %s", name, err, out)
		}
		again := waitBack(t, c, name, uid)
		t.Logf("%s back and ready %s after its deletion", name, time.Since(deleted).Round(100*time.Millisecond))
		if again.Node != before.Node {
			t.Errorf("%s came back on %s; its local volume is on %s", name, again.Node, before.Node)
		}
		if out, err := c.Skiff("exec", name, "--", "hostname"); err != nil || strings.TrimSpace(out) != name {
			t.Errorf("%s's hostname: %v %q", name, err, out)
		}
		if out, err := c.Skiff("exec", name, "--", "cat", "/data/note", "/data/boots"); err != nil || out != "note of "+name+"\nstarted as "+name+"\nstarted as "+name+"\n" {
			t.Errorf("%s's volume after its deletion: %v %q", name, err, out)
		}
		if _, labels, err := podMeta(c, name); err != nil || labels["apps.kubernetes.io/pod-index"] != fmt.Sprint(i) || labels["statefulset.kubernetes.io/pod-name"] != name {
			t.Errorf("%s's labels: %v %v", name, err, labels)
		}
		eventually(t, other+" resolves "+fqdn+" to its new address", func() error {
			out, err := c.Skiff("exec", other, "--", "nslookup", fqdn)
			if err != nil || !strings.Contains(out, "Address: "+again.IP) {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		})
		if out, err := wget(c, other, "http://"+fqdn+":8080/note"); err != nil || out != "note of "+name+"\n" {
			t.Errorf("%s fetching %s's note by its DNS name: %v %q", other, name, err, out)
		}
		t.Logf("%s checked (name, node, hostname, labels, data, DNS) %s after its deletion", name, time.Since(deleted).Round(100*time.Millisecond))
		byName[name] = again
	}

	// Lose the node of a pod off the server's node.
	var all []podInfo
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		all = append(all, byName[n])
	}
	victim := victimOffServer(t, all)
	lost := victim.Node
	uid, err := podUID(c, victim.Name)
	if err != nil {
		t.Fatal(err)
	}
	lostAt := time.Now()
	c.Signal(lost, "agent", syscall.SIGKILL)
	c.CutLink(lost)
	want := waitForLostNode(t, c, victim.Name, uid, lost)
	t.Logf("%s waiting for %s %s after the node was lost", victim.Name, lost, time.Since(lostAt).Round(100*time.Millisecond))
	if out, err := c.Skiff("describe", "pod", victim.Name); err != nil || !strings.Contains(out, want) {
		t.Errorf("describe pod %s does not say why it waits: %v\n%s", victim.Name, err, out)
	}
	if out, err := c.Skiff("get", "sts", "web"); err != nil || !strings.Contains(out, "web    2/3") {
		t.Errorf("get sts while a pod waits: %v\n%s", err, out)
	}
	uid, err = podUID(c, victim.Name)
	if err != nil {
		t.Fatal(err)
	}

	// The node comes back (cluster start starts its agent and brings its
	// link up): the waiting pod runs there, on its data.
	healed := time.Now()
	c.Heal()
	var back podInfo
	eventually2(t, 90*time.Second, victim.Name+" running again on "+lost, func() error {
		ps, err := pods(c, "app=nginx")
		if err != nil {
			return err
		}
		back = podByName(ps, victim.Name)
		if !back.Ready || back.Node != lost {
			return fmt.Errorf("%+v", back)
		}
		return nil
	})
	t.Logf("%s ready on %s again %s after the node came back", victim.Name, lost, time.Since(healed).Round(100*time.Millisecond))
	if got, err := podUID(c, victim.Name); err != nil || got != uid {
		t.Errorf("the waiting %s (%s) was replaced by %s: %v", victim.Name, uid, got, err)
	}
	if out, err := c.Skiff("exec", victim.Name, "--", "cat", "/data/note"); err != nil || out != "note of "+victim.Name+"\n" {
		t.Errorf("%s's volume after its node came back: %v %q", victim.Name, err, out)
	}
	t.Logf("checks done %s after apply", time.Since(start).Round(time.Second))
}

// waitForLostNode waits until pod name (whose UID was uid) is made again
// and waits, Pending and unbound, with a PodScheduled condition saying its
// local volume's node lost is not ready; it returns that message.
func waitForLostNode(t *testing.T, c Cluster, name, uid, lost string) string {
	t.Helper()
	want := fmt.Sprintf(`local volume "data-%s" lives on node %q, which is not ready: the pod waits for that node`, name, lost)
	eventually2(t, 90*time.Second, name+" made again and waiting for "+lost, func() error {
		out, err := c.Skiff("get", "pod", name, "-o", "json")
		if err != nil {
			return err
		}
		var p struct {
			Metadata struct{ Uid string }
			Spec     struct{ NodeName string }
			Status   struct {
				Phase      string
				Conditions []struct{ Type, Status, Reason, Message string }
			}
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return err
		}
		if p.Metadata.Uid == uid || p.Spec.NodeName != "" || p.Status.Phase != "Pending" {
			return fmt.Errorf("not yet made again and waiting: %s", out)
		}
		for _, cnd := range p.Status.Conditions {
			if cnd.Type == "PodScheduled" && cnd.Status == "False" && cnd.Reason == "Unschedulable" && strings.Contains(cnd.Message, want) {
				return nil
			}
		}
		return fmt.Errorf("no PodScheduled condition saying %q: %s", want, out)
	})
	return want
}

// victimOffServer picks a ready pod of app=nginx on a node other than
// node-1 (whose loss would take the server with it).
func victimOffServer(t *testing.T, ps []podInfo) podInfo {
	t.Helper()
	for _, p := range ps {
		if p.Node != "node-1" {
			return p
		}
	}
	t.Fatalf("every web pod on node-1: %+v", ps)
	return podInfo{}
}

// TestStatefulSetClaimDeletedOnLostNode loses the node of a StatefulSet
// pod's local volume, then deletes the claim, as Kubernetes' runbook for
// a node that will not return says: the StatefulSet makes the claim again
// and the pod starts on another node, with an empty volume.
func TestStatefulSetClaimDeletedOnLostNode(t *testing.T) {
	t.Parallel()
	c := newKindCluster(t, 3, lifecycleFlags...)
	apply(t, c, statefulWebYAML(c.Image(), "Parallel"))
	victim := victimOffServer(t, waitPods(t, c, "app=nginx", 3))
	if out, err := c.Skiff("exec", victim.Name, "--", "sh", "-c", "echo note of "+victim.Name+" > /data/note"); err != nil {
		t.Fatalf("write %s's note: %v %s", victim.Name, err, out)
	}
	uid, err := podUID(c, victim.Name)
	if err != nil {
		t.Fatal(err)
	}
	claim := "data-" + victim.Name
	claimUID, _, err := volumeOf(c, claim)
	if err != nil {
		t.Fatal(err)
	}
	lost := victim.Node
	c.Signal(lost, "agent", syscall.SIGKILL)
	c.CutLink(lost)
	waitForLostNode(t, c, victim.Name, uid, lost)
	deleted := time.Now()
	if out, err := c.Skiff("delete", "pvc", claim); err != nil {
		t.Fatalf("delete pvc: %v %s", err, out)
	}
	var moved podInfo
	eventually2(t, 90*time.Second, victim.Name+" running off "+lost, func() error {
		ps, err := pods(c, "app=nginx")
		if err != nil {
			return err
		}
		moved = podByName(ps, victim.Name)
		if !moved.Ready || moved.Node == lost || moved.Node == "" {
			return fmt.Errorf("%+v", moved)
		}
		return nil
	})
	t.Logf("%s ready on %s %s after its claim was deleted", victim.Name, moved.Node, time.Since(deleted).Round(100*time.Millisecond))
	out, err := c.Skiff("exec", victim.Name, "--", "cat", "/data/boots")
	if err != nil || out != "started as "+victim.Name+"\n" {
		t.Errorf("%s's new volume: %v %q (want one start only)", victim.Name, err, out)
	}
	if out, err := c.Skiff("exec", victim.Name, "--", "ls", "/data"); err != nil || strings.Contains(out, "note") {
		t.Errorf("%s's new volume holds the old note: %v %q", victim.Name, err, out)
	}
	if uid, node, err := volumeOf(c, claim); err != nil || uid == claimUID || node != moved.Node {
		t.Errorf("%s after the deletion: uid %s (was %s), on %q: %v", claim, uid, claimUID, node, err)
	}
}

// volumeOf reads a Volume's UID and the node its local data is on.
func volumeOf(c Cluster, name string) (uid, node string, err error) {
	out, err := c.Skiff("get", "pvc", name, "-o", "json")
	if err != nil {
		return "", "", err
	}
	// A claim made from a Kubernetes template prints as a
	// PersistentVolumeClaim: its node is Kubernetes' selected-node
	// annotation there.
	var v struct {
		Metadata struct {
			Uid         string
			Annotations map[string]string
		}
		Spec struct{ Local struct{ NodeName string } }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return "", "", err
	}
	node = v.Spec.Local.NodeName
	if node == "" {
		node = v.Metadata.Annotations["volume.kubernetes.io/selected-node"]
	}
	return v.Metadata.Uid, node, nil
}
