package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
)

// `skiff cluster create --servers 3 --nodes 2` makes a control plane of
// three servers, each on a machine (network namespace) of its own, and two
// agent nodes; its config names all three servers. A client creates
// ConfigMaps through that config and a watch runs on each server while two
// faults hit: the etcd leader's server is killed with SIGKILL (and brought
// back by `skiff cluster start`), then the server leading the controllers
// is cut off the lab bridge for a few seconds. After each fault the writes
// go on and the command line writes within 15 s, and an Autoscaler's raised
// minimum gets a new pod bound within 15 s (the controllers' and the
// scheduler's leadership moved or held). Afterwards every acknowledged
// write is stored once, as the object acknowledged; every watch saw each
// write made once, in revision order, with no gap (those on the killed and
// the cut server resumed from their last revision); the pods that ran keep
// their containers; the cut server is Healthy again and serves the latest
// write; `skiff cluster delete` leaves nothing.
func TestClusterOfThreeServers(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	began := time.Now()
	c, _ := newThreeServerCluster(t, "e2s")
	if out, err := c.clusterCmd("cluster", "list"); err != nil || !strings.Contains(out, c.name+"   2       3 ") {
		t.Errorf("cluster list: want 2 nodes and 3 servers: %v\n%s", err, out)
	}

	// The config names every server.
	cfg, err := os.ReadFile(c.configFile())
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, s := range serverList(t, c, 3) {
		addrs = append(addrs, s.address)
	}
	for _, a := range addrs {
		if !strings.Contains(string(cfg), a) {
			t.Errorf("the config does not name server %s:\n%s", a, cfg)
		}
	}

	apply(t, c, haWebDeployment(c.Image(), 2))
	before := waitPods(t, c, "app=web", 2)
	started := containerStarts(t, c)
	for _, p := range before {
		if p.Node != "node-1" && p.Node != "node-2" {
			t.Errorf("pod %s on %q: want an agent node", p.Name, p.Node)
		}
	}
	// The pods that ran are untouched: same container, no restart.
	untouched := func(when string) {
		t.Helper()
		after := containerStarts(t, c)
		for _, p := range before {
			now := podByName(mustPods(t, c, "app=web"), p.Name)
			if now.ContainerID != p.ContainerID || now.Restarts != p.Restarts || after[p.Name] != started[p.Name] {
				t.Errorf("pod %s changed %s: container %s → %s, restarts %d → %d, started %s → %s",
					p.Name, when, p.ContainerID, now.ContainerID, p.Restarts, now.Restarts, started[p.Name], after[p.Name])
			}
		}
	}
	if out, err := c.Skiff("autoscale", "deploy", "web", "--min", "2", "--max", "6"); err != nil {
		t.Fatalf("autoscale: %v\n%s", err, out)
	}

	var leader string
	rows := serverList(t, c, 3)
	for _, s := range rows {
		if s.leader {
			leader = s.name
		}
	}
	if leader == "" {
		t.Fatalf("no server is the etcd leader")
	}

	// A writer through the config's servers (it knows all three) and a
	// watch on each server run throughout.
	cfgFile, err := client.LoadConfig(c.configFile())
	if err != nil {
		t.Fatal(err)
	}
	api := dialCluster(t, c, cfgFile.Server)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	watches := map[string]*watchLog{}
	for _, s := range rows {
		wcli := dialCluster(t, c, s.address)
		var rv string
		eventually(t, "list configmaps on "+s.name, func() error {
			var err error
			_, rv, err = wcli.ConfigMaps().List(ctx, client.ListOptions{Namespace: "default"})
			return err
		})
		seen := &watchLog{}
		watches[s.name] = seen
		wg.Add(1)
		go func() { defer wg.Done(); seen.follow(ctx, wcli, rv) }()
	}
	w := &writer{c: api}
	wctx, stopWriting := context.WithCancel(ctx)
	var writing sync.WaitGroup
	writing.Add(1)
	go func() { defer writing.Done(); w.run(wctx) }()
	t.Cleanup(func() { stopWriting(); writing.Wait() })
	waitAcks(t, w, 0, 20, time.Minute, "writes before the faults")

	// Fault 1: the etcd leader's server is killed.
	ctlLeader := electedLeader(t, c, "controller")
	c.Signal(leader, "server", syscall.SIGKILL)
	killed := time.Now()
	t.Logf("killed %s, the etcd leader; the controllers' leader was %s", leader, ctlLeader)
	acked := w.count()

	// The command line fails over to a surviving server and writes.
	cliWrite(t, c, "after-kill", killed, "killing "+leader+" (the etcd leader)")
	waitAcks(t, w, acked, 20, 15*time.Second, "writes after the kill")
	t.Logf("the writer acknowledged 20 more writes %.1fs after the kill (%d before it); failed attempts: %v", time.Since(killed).Seconds(), acked, w.failures())

	// Scheduling and autoscaling go on: a raised minimum makes the
	// autoscaler scale the deployment, whose new pod is bound and Runs.
	raised := time.Now()
	raiseMinReplicas(t, api, 3)
	took := waitScheduled(t, c, 3, 15*time.Second)
	t.Logf("autoscaled and scheduled: a third pod bound %.1fs after the minimum was raised, %.1fs after the kill", took.Seconds(), time.Since(killed).Seconds()-time.Since(raised.Add(took)).Seconds())
	waitPods(t, c, "app=web", 3)
	t.Logf("a new pod Running %.1fs after the kill", time.Since(killed).Seconds())
	untouched("across the kill")
	// A survivor leads etcd now. (The killed server shows Down only
	// once its registration's 15 s lease runs out.)
	for _, s := range serverList(t, c, 3) {
		if s.leader && s.name == leader {
			t.Errorf("the killed server %s still leads etcd", leader)
		}
	}

	// Start brings the killed server back as the same member.
	if out, err := c.clusterCmd("cluster", "start", "--name", c.name); err != nil {
		t.Fatalf("cluster start: %v\n%s", err, out)
	}
	allHealthy := func(what string) {
		t.Helper()
		eventually(t, what, func() error {
			for _, s := range serverList(t, c, 3) {
				if s.health != "Healthy" {
					return fmt.Errorf("%s is %s", s.name, s.health)
				}
			}
			return nil
		})
	}
	allHealthy("3 healthy servers again")

	// Fault 2: the network of the server leading the controllers is cut
	// for a few seconds.
	cut := electedLeader(t, c, "controller")
	t.Logf("the controllers' leader after the kill: %s", cut)
	if cut == "" {
		t.Fatal("no server's log says it became the controllers' leader")
	}
	c.CutLink(cut)
	cutAt := time.Now()
	linkDown := true
	t.Cleanup(func() {
		if linkDown {
			c.RestoreLink(cut)
		}
	})
	acked = w.count()
	cliWrite(t, c, "after-cut", cutAt, "cutting "+cut+" off")
	waitAcks(t, w, acked, 20, 15*time.Second, "writes while "+cut+" is cut off")
	t.Logf("with %s cut off, the writer acknowledged 20 writes within %.1fs", cut, time.Since(cutAt).Seconds())
	raised = time.Now()
	raiseMinReplicas(t, api, 4)
	took = waitScheduled(t, c, 4, 15*time.Second)
	t.Logf("autoscaled and scheduled: a fourth pod bound %.1fs after the minimum was raised, %.1fs after the cut", took.Seconds(), time.Since(cutAt).Seconds()-time.Since(raised.Add(took)).Seconds())
	if d := 5*time.Second - time.Since(cutAt); d > 0 {
		time.Sleep(d)
	}
	c.RestoreLink(cut)
	linkDown = false
	restored := time.Now()
	t.Logf("%s was cut off for %.1fs", cut, time.Since(cutAt).Seconds())
	waitPods(t, c, "app=web", 4)

	// The cut server rejoins: healthy, and its own member answers a
	// linearizable read of the latest acknowledged write.
	allHealthy("3 healthy servers after the cut")
	last := w.acknowledged()
	cutCli := dialCluster(t, c, serverAddr(rows, cut))
	eventually(t, cut+" serves the latest write", func() error {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := cutCli.ConfigMaps().Get(rctx, "default", last[len(last)-1])
		return err
	})
	t.Logf("%s caught up %.1fs after its link came back", cut, time.Since(restored).Seconds())
	waitAcks(t, w, w.count(), 5, 15*time.Second, "writes after the cut")

	// Every watch has seen every acknowledged write: those on the
	// survivors without a break, those on the killed and the cut server
	// resumed from their last revision.
	stopWriting()
	writing.Wait()
	final := w.acknowledged()
	eventually(t, "the watches see the last write", func() error {
		for name, seen := range watches {
			if !seen.has(final[len(final)-1]) {
				return fmt.Errorf("the watch on %s has not seen %s", name, final[len(final)-1])
			}
		}
		return nil
	})
	stop()
	wg.Wait()
	checkWrites(t, api, w, watches)
	untouched("across the kill and the cut")

	// Delete leaves nothing: processes, namespaces, the host's veth,
	// mounts, files.
	labLink := hostLabLink(t, addrs[0])
	if !hasLink(t, labLink) {
		t.Fatalf("%s is not in ip -o link: the check after delete would find nothing", labLink)
	}
	var pids []int
	for _, node := range []string{"server-1", "server-2", "server-3", "node-1", "node-2"} {
		for _, role := range []string{"server", "agent"} {
			if pid, ok := c.running(node, role); ok {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) != 5 {
		t.Errorf("%d processes run before delete: want 3 servers and 2 agents", len(pids))
	}
	if out, err := c.clusterCmd("cluster", "delete", "--name", c.name); err != nil {
		t.Fatalf("cluster delete: %v\n%s", err, out)
	}
	for _, pid := range pids {
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(stat), ") Z ") {
			t.Errorf("pid %d still runs after delete: %s", pid, stat)
		}
	}
	for _, dir := range []string{filepath.Join(c.stateDir, c.name), filepath.Join(c.runDir, c.name)} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s left after delete (%v)", dir, err)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err != nil {
		t.Errorf("ip netns list: %v", err)
	} else if strings.Contains(string(out), "skiff-"+c.name+"-") {
		t.Errorf("namespaces left after delete:\n%s", out)
	}
	// The host's veth into the lab, by its index: a cluster created since
	// may reuse the subnet and the name.
	if hasLink(t, labLink) {
		t.Errorf("the host's veth into the lab (%s) is left after delete", labLink)
	}
	t.Logf("test wall time %.1fs", time.Since(began).Seconds())
}

func haWebDeployment(image string, replicas int) string {
	return fmt.Sprintf(`apiVersion: skiff/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
        readinessProbe:
          httpGet: {port: 8080}
          periodSeconds: 1
`, replicas, image)
}

func mustPods(t *testing.T, c Cluster, selector string) []podInfo {
	t.Helper()
	ps, err := pods(c, selector)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// containerStarts is each web pod's container start time.
func containerStarts(t *testing.T, c Cluster) map[string]string {
	t.Helper()
	out, err := c.Skiff("get", "pods", "-l", "app=web", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Status   struct {
				ContainerStatuses []struct {
					State struct{ Running struct{ StartedAt string } }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("get pods -o json: %v\n%s", err, out)
	}
	starts := map[string]string{}
	for _, it := range list.Items {
		for _, cs := range it.Status.ContainerStatuses {
			if cs.State.Running.StartedAt == "" {
				t.Fatalf("pod %s: no running container start time:\n%s", it.Metadata.Name, out)
			}
			starts[it.Metadata.Name] = cs.State.Running.StartedAt
		}
	}
	return starts
}

type serverRow struct {
	name, address, health string
	leader                bool
}

// serverList is `skiff server list` through the cluster's config; it
// fails the test unless want servers are listed.
func serverList(t *testing.T, c *kindCluster, want int) []serverRow {
	t.Helper()
	var rows []serverRow
	eventually(t, "skiff server list", func() error {
		out, err := c.Skiff("server", "list")
		if err != nil {
			return err
		}
		rows = rows[:0]
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 5 {
				return fmt.Errorf("line %q", line)
			}
			r := serverRow{name: f[0], address: f[1], leader: f[3] == "*"}
			if r.leader {
				r.health = f[4]
			} else {
				r.health = f[3]
			}
			rows = append(rows, r)
		}
		if len(rows) != want {
			return fmt.Errorf("%d servers, want %d:\n%s", len(rows), want, out)
		}
		return nil
	})
	return rows
}

// hostLabLink is "INDEX: NAME" (as `ip -o link` begins its line) of the host's link that holds the lab
// subnet's host address (.254) of the server at addr (HOST:PORT).
func hostLabLink(t *testing.T, addr string) string {
	t.Helper()
	host := strings.Split(addr, ":")[0]
	lab := host[:strings.LastIndex(host, ".")] + ".254/"
	out, err := exec.Command("ip", "-o", "addr", "show").Output()
	if err != nil {
		t.Fatalf("ip addr: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[2] == "inet" && strings.HasPrefix(f[3], lab) {
			return f[0] + " " + f[1]
		}
	}
	t.Fatalf("no host address %s* for the lab:\n%s", lab, out)
	return ""
}

// hasLink reports whether `ip -o link` lists link ("INDEX: NAME").
func hasLink(t *testing.T, link string) bool {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	o := "\n" + string(out)
	return strings.Contains(o, "\n"+link+":") || strings.Contains(o, "\n"+link+"@")
}

// serverAddr is the API address of the server named name.
func serverAddr(rows []serverRow, name string) string {
	for _, r := range rows {
		if r.name == name {
			return r.address
		}
	}
	return ""
}

// newThreeServerCluster creates a local cluster of three servers and two
// nodes (torn down when the test ends, the servers' logs printed if it
// failed) and returns it with the create command's output.
func newThreeServerCluster(t *testing.T, prefix string) (*kindCluster, string) {
	t.Helper()
	bin := skiffBinary(t) // built once for the package: not this test's time
	began := time.Now()
	b := make([]byte, 3)
	rand.Read(b)
	c := &kindCluster{t: t, bin: bin, name: prefix + hex.EncodeToString(b), stateDir: t.TempDir(), runDir: t.TempDir(), nodes: 2}
	t.Cleanup(c.teardown)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, s := range []string{"server-1", "server-2", "server-3"} {
			if data, err := os.ReadFile(filepath.Join(c.nodeDir(s), "server.log")); err == nil {
				t.Logf("--- %s log (tail):\n%s", s, tail(string(data), 30))
			}
		}
	})
	out, err := c.clusterCmd("cluster", "create", "--name", c.name, "--servers", "3", "--nodes", "2")
	if err != nil {
		t.Fatalf("cluster create: %v\n%s", err, out)
	}
	t.Logf("cluster of 3 servers and 2 nodes created in %.1fs", time.Since(began).Seconds())
	if _, img, ok := strings.Cut(out, "the busybox demo image is "); ok {
		c.image = strings.TrimSuffix(strings.TrimSpace(strings.SplitN(img, "\n", 2)[0]), ")")
	}
	if c.image == "" {
		t.Fatalf("no demo image in the create output:\n%s", out)
	}
	return c, out
}
