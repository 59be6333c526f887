package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Short enough that node loss is seen within the test, long enough that an
// agent or server restart (a second or two) never looks like one.
var lifecycleFlags = []string{"--node-grace-period=10s", "--pod-eviction-timeout=5s"}

// TestMultiNode runs one 3-node local cluster through what users do with
// several machines, in order: pods on different nodes talking without NAT,
// cluster DNS, a two-tier app with a shared volume, logs and exec, scaling,
// Prometheus scraping, agent and server restarts, and finally the loss of
// a node. The steps share the cluster because creating one is the slow
// part; each depends only on what it applies itself.
func TestMultiNode(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	// The two-tier app's hostPath volume outlives its step: the agents
	// keep it (and would make it again) until the cluster is gone, so it
	// is removed after the cluster, whose cleanup is registered later.
	shared, err := os.MkdirTemp("", "skiff-e2e-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	c := newKindCluster(t, 3, lifecycleFlags...)
	var mn MultiNode = c

	t.Run("cross-node pod network", func(t *testing.T) { testCrossNode(t, mn) })
	t.Run("two-tier app with a shared volume", func(t *testing.T) { testTwoTier(t, mn, shared) })
	t.Run("logs -f and exec", func(t *testing.T) { testLogsExec(t, mn) })
	t.Run("scale and autoscale", func(t *testing.T) { testScale(t, mn) })
	t.Run("prometheus", func(t *testing.T) { testPrometheus(t, mn) })
	t.Run("agent restart", func(t *testing.T) { testAgentRestart(t, mn) })
	t.Run("server restart", func(t *testing.T) { testServerRestart(t, mn) })
	t.Run("node loss", func(t *testing.T) { testNodeLoss(t, mn) })
}

// pinnedPod is a demo pod (httpd on :8080) on one node.
func pinnedPod(name, node, image string) string {
	return fmt.Sprintf(`apiVersion: skiff/v1
kind: Pod
metadata:
  name: %s
  labels: {app: pinned}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {skiff.io/hostname: %s}
  containers:
  - name: web
    image: %s
    # -v logs each client's address: the no-NAT check reads it.
    command: ["/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
    readinessProbe:
      httpGet: {port: 8080}
      periodSeconds: 1
`, name, node, image)
}

func apply(t *testing.T, c Cluster, yaml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := c.Skiff("apply", "-f", f)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	return out
}

func podByName(ps []podInfo, name string) podInfo {
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	return podInfo{}
}

func wget(c Cluster, pod, url string) (string, error) {
	return c.Skiff("exec", pod, "--", "wget", "-q", "-O", "-", url)
}

// Pods on node-2 and node-3 reach each other by pod IP, and the receiver
// sees the sender's pod IP (host-gw, no NAT); the nodes carry host-gw
// routes to each other's pod CIDRs and keep the cluster blackhole.
func testCrossNode(t *testing.T, c MultiNode) {
	apply(t, c, pinnedPod("pinned-2", "node-2", c.Image())+"---\n"+pinnedPod("pinned-3", "node-3", c.Image()))
	ps := waitPods(t, c, "app=pinned", 2)
	a, b := podByName(ps, "pinned-2"), podByName(ps, "pinned-3")
	if a.Node != "node-2" || b.Node != "node-3" {
		t.Fatalf("pods not where pinned: %+v", ps)
	}
	out, err := wget(c, a.Name, "http://"+b.IP+":8080/")
	if err != nil || !strings.Contains(out, "Hello from skiff") {
		t.Fatalf("HTTP from node-2's pod to node-3's: %v\n%s", err, out)
	}
	eventually(t, "node-3's pod logs node-2's pod IP as the client (no NAT)", func() error {
		out, err := c.Skiff("logs", b.Name)
		if err != nil || !strings.Contains(out, ":"+a.IP+"]:") { // [::ffff:IP]:PORT
			return fmt.Errorf("%v: no %s in the log:\n%s", err, a.IP, out)
		}
		return nil
	})
	routes, err := c.InNodeOf("node-1", "ip", "route", "show", "proto", "115")
	if err != nil || !strings.Contains(routes, "blackhole") || strings.Count(routes, " via 172.31.") != 2 {
		t.Fatalf("node-1's routes: %v\n%s", err, routes)
	}
	// From another node's network namespace, too.
	if out, err := c.InNodeOf("node-1", "/bin/busybox", "wget", "-q", "-O", "-", "http://"+b.IP+":8080/"); err != nil || !strings.Contains(out, "Hello") {
		t.Fatalf("HTTP from node-1 to node-3's pod: %v\n%s", err, out)
	}
}

// testTwoTier applies the two-tier app and checks it end to end.
func testTwoTier(t *testing.T, c MultiNode, shared string) {
	data, err := os.ReadFile("testdata/two-tier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer("IMAGE", c.Image(), "SHARED", shared).Replace(string(data))
	out := apply(t, c, yaml)
	for _, want := range []string{"volume/shared created", "replicaset/web created", "replicaset/backend created", "service/web created", "service/backend created"} {
		if !strings.Contains(out, want) {
			t.Fatalf("apply output lacks %q:\n%s", want, out)
		}
	}
	web := waitPods(t, c, "app=web", 2)
	backend := waitPods(t, c, "app=backend", 2)
	nodes := map[string]bool{}
	for _, p := range append(append([]podInfo{}, web...), backend...) {
		nodes[p.Node] = true
	}
	t.Logf("web on %v, backend on %v", nodesOf(web), nodesOf(backend))

	// DNS from inside a pod: the service name gives its ClusterIP, which
	// every node's proxy translates to the ready pods.
	out, err = c.Skiff("exec", web[0].Name, "--", "nslookup", "backend.default.svc.cluster.local")
	if vip := clusterIP(t, c, "backend"); err != nil || !strings.Contains(out, vip) {
		t.Fatalf("nslookup backend from %s: %v: want %s in\n%s", web[0].Name, err, vip, out)
	}
	// Every web pod's page, written to the shared volume on its node, is
	// served by the backend (through DNS, whichever node it answers from).
	for _, w := range web {
		for _, from := range web {
			eventually(t, "page of "+w.Name+" through the backend", func() error {
				out, err := wget(c, from.Name, "http://backend.default.svc.cluster.local:8080/"+w.Name+".txt")
				if err != nil || !strings.Contains(out, "written by "+w.Name) {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			})
		}
	}
	// And pod to pod by IP across every pair of nodes that has one.
	for _, a := range web {
		for _, b := range backend {
			if a.Node == b.Node {
				continue
			}
			if out, err := wget(c, a.Name, "http://"+b.IP+":8080/"+a.Name+".txt"); err != nil || !strings.Contains(out, a.Name) {
				t.Fatalf("%s (%s) → %s (%s): %v %s", a.Name, a.Node, b.Name, b.Node, err, out)
			}
		}
	}
	if len(nodes) < 2 {
		t.Logf("note: the scheduler put all four pods on one node")
	}
}

func nodesOf(ps []podInfo) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Node)
	}
	sort.Strings(out)
	return out
}

// logs -f streams as the container writes; exec passes exit codes.
func testLogsExec(t *testing.T, c MultiNode) {
	apply(t, c, fmt.Sprintf(`apiVersion: skiff/v1
kind: Pod
metadata:
  name: ticker
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {skiff.io/hostname: node-3}
  containers:
  - name: tick
    image: %s
    command: ["/bin/sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
`, c.Image()))
	eventually(t, "ticker running", func() error {
		ps, err := pods(c, "")
		if p := podByName(ps, "ticker"); err != nil || p.Phase != "Running" {
			return fmt.Errorf("%v %+v", err, p)
		}
		return nil
	})
	kc := c.(*kindCluster)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kc.bin, "logs", "-f", "ticker")
	cmd.Env = append(os.Environ(), "SKIFF_CONFIG="+kc.configFile())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	seen := 0
	start := time.Now()
	for sc.Scan() && seen < 10 {
		if strings.HasPrefix(sc.Text(), "tick ") {
			seen++
		}
	}
	if seen < 10 {
		t.Fatalf("logs -f gave %d lines", seen)
	}
	t.Logf("logs -f: 10 lines in %.1fs", time.Since(start).Seconds())

	_, err = c.Skiff("exec", "ticker", "--", "sh", "-c", "exit 7")
	if code, ok := asExit(err); !ok || code != 7 {
		t.Fatalf("exec exit code: %v", err)
	}
	if out, err := c.Skiff("exec", "ticker", "--", "hostname"); err != nil || strings.TrimSpace(out) != "ticker" {
		t.Fatalf("exec hostname: %v %q", err, out)
	}
	if out, err := c.Skiff("delete", "pod", "ticker", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
}

// scale sets the replica count both ways; an autoscaler with a minimum
// above the current size scales up to it.
func testScale(t *testing.T, c MultiNode) {
	if out, err := c.Skiff("scale", "rs", "web", "--replicas", "4"); err != nil {
		t.Fatalf("scale: %v %s", err, out)
	}
	waitPods(t, c, "app=web", 4)
	if out, err := c.Skiff("scale", "rs", "web", "--replicas", "2"); err != nil {
		t.Fatalf("scale: %v %s", err, out)
	}
	waitPods(t, c, "app=web", 2)
	if out, err := c.Skiff("autoscale", "rs", "backend", "--min", "3", "--max", "4"); err != nil {
		t.Fatalf("autoscale: %v %s", err, out)
	}
	waitPods(t, c, "app=backend", 3)
	if out, err := c.Skiff("delete", "autoscaler", "backend"); err != nil {
		t.Fatalf("delete autoscaler: %v %s", err, out)
	}
}

// Every component's /metrics, found through the file_sd targets skiff
// writes, passes `promtool check metrics`.
func testPrometheus(t *testing.T, c MultiNode) {
	promtool := os.Getenv("SKIFF_PROMTOOL")
	if promtool == "" {
		var err error
		if promtool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("needs promtool (Debian package prometheus) or SKIFF_PROMTOOL")
		}
	}
	out, err := c.Skiff("cluster", "prometheus-targets")
	if err != nil {
		t.Fatal(err)
	}
	var groups []struct {
		Targets []string
		Labels  map[string]string
	}
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		t.Fatalf("targets: %v\n%s", err, out)
	}
	if len(groups) != 1+len(c.Nodes()) {
		t.Fatalf("want the server and %d agents:\n%s", len(c.Nodes()), out)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, g := range groups {
		for _, target := range g.Targets {
			resp, err := hc.Get("http://" + target + "/metrics")
			if err != nil {
				t.Fatalf("scrape %s (%v): %v", target, g.Labels, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(body) == 0 {
				t.Fatalf("scrape %s: %s %v", target, resp.Status, err)
			}
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(string(body))
			res, err := cmd.CombinedOutput()
			// promtool exits 3 for lint warnings (naming advice) and 1 for
			// errors; the output says which.
			if code, _ := asExit(err); err != nil && code != 3 {
				t.Errorf("promtool check metrics on %s (%v): %v\n%s", target, g.Labels, err, res)
			} else if len(res) > 0 {
				t.Logf("promtool on %s (%s): lint notes:\n%s", target, g.Labels["component"], tail(string(res), 10))
			}
		}
	}
}

// Stopping a node's agent leaves its pods running and serving; the next
// agent adopts them without restarting a container.
func testAgentRestart(t *testing.T, c MultiNode) {
	before, err := pods(c, "app=pinned")
	if err != nil {
		t.Fatal(err)
	}
	p := podByName(before, "pinned-2")
	c.Signal("node-2", "agent", syscall.SIGTERM)
	if out, err := c.InNodeOf("node-1", "/bin/busybox", "wget", "-q", "-O", "-", "http://"+p.IP+":8080/"); err != nil || !strings.Contains(out, "Hello") {
		t.Fatalf("pod on node-2 stopped serving with its agent: %v %s", err, out)
	}
	c.Heal()
	after := waitPods(t, c, "app=pinned", 2)
	q := podByName(after, "pinned-2")
	if q.ContainerID != p.ContainerID || q.Restarts != 0 || q.IP != p.IP {
		t.Fatalf("container changed across an agent restart: %+v → %+v", p, q)
	}
}

// A server restart loses no object, and every agent's watch resumes: a
// pod created afterwards on each node runs.
func testServerRestart(t *testing.T, c MultiNode) {
	list := func() string {
		var b strings.Builder
		for _, kind := range []string{"pods", "services", "replicasets", "volumes", "nodes"} {
			out, err := c.Skiff("get", kind, "-A", "-o", "name")
			if err != nil {
				out, err = c.Skiff("get", kind, "-o", "name")
			}
			if err != nil {
				t.Fatalf("get %s: %v", kind, err)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			sort.Strings(lines)
			fmt.Fprintf(&b, "%s: %s\n", kind, strings.Join(lines, " "))
		}
		return b.String()
	}
	before := list()
	c.Signal("node-1", "server", syscall.SIGTERM)
	c.Heal()
	if after := list(); after != before {
		t.Fatalf("objects changed across a server restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var yaml []string
	for _, n := range c.Nodes() {
		yaml = append(yaml, strings.Replace(pinnedPod("after-"+n, n, c.Image()), "app: pinned", "app: after", 1))
	}
	apply(t, c, strings.Join(yaml, "---\n"))
	waitPods(t, c, "app=after", len(c.Nodes()))
	if out, err := c.Skiff("delete", "pods", "-l", "app=after", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
}

// A node whose agent dies and whose link is cut turns NotReady; its
// replica set pods come back on the other nodes. The lost node is one with
// a web pod other than node-1 (the server's node, which the test keeps).
func testNodeLoss(t *testing.T, c MultiNode) {
	web := webPodOffServerNode(t, c)
	lost := ""
	for _, p := range web {
		if p.Node != "node-1" {
			lost = p.Node
		}
	}
	c.Signal(lost, "agent", syscall.SIGKILL)
	c.CutLink(lost)
	eventually2(t, 90*time.Second, "web pods recreated off "+lost, func() error {
		ps, err := pods(c, "app=web")
		if err != nil {
			return err
		}
		ok := 0
		for _, p := range ps {
			if p.Ready && p.Node != lost {
				ok++
			}
		}
		if ok < 2 {
			return fmt.Errorf("%d ready web pods off %s: %+v", ok, lost, ps)
		}
		return nil
	})
	out, err := c.Skiff("get", "nodes")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == lost && f[1] == "Ready" {
			t.Fatalf("the lost node still shows Ready:\n%s", out)
		}
	}
}

// webPodOffServerNode returns the ready web pods once one of them runs on
// a node other than node-1: if the scheduler put them all there, node-1 is
// cordoned while one of them is deleted and comes back elsewhere.
func webPodOffServerNode(t *testing.T, c MultiNode) []podInfo {
	t.Helper()
	web := waitPods(t, c, "app=web", 2)
	for _, p := range web {
		if p.Node != "node-1" {
			return web
		}
	}
	if out, err := c.Skiff("cordon", "node-1"); err != nil {
		t.Fatalf("cordon: %v %s", err, out)
	}
	if out, err := c.Skiff("delete", "pod", web[0].Name, "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	web = waitPods(t, c, "app=web", 2)
	if out, err := c.Skiff("uncordon", "node-1"); err != nil {
		t.Fatalf("uncordon: %v %s", err, out)
	}
	for _, p := range web {
		if p.Node != "node-1" {
			return web
		}
	}
	t.Fatalf("with node-1 cordoned, the replacement web pod still landed there: %+v", web)
	return nil
}

// eventually2 is eventually with its own deadline.
func eventually2(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}
