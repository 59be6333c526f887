package vm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/qemu"
)

// vmCluster is `skiff cluster create --vm`, driven through the real
// binary: nodes that are QEMU guests on the cluster's lab bridge.
type vmCluster struct {
	t                     *testing.T
	bin, name             string
	stateDir, runDir      string
	kernelDir, image, cfg string
}

func (c *vmCluster) cluster(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(args, "--state-dir", c.stateDir, "--run-dir", c.runDir)...)
	cmd.Env = hermetic(c.cfg)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// skiff runs the command line on the host, which reaches the server over
// its veth into the lab.
func (c *vmCluster) skiff(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Guests under TCG on a busy CI host answer slowly: a first connection
	// to an agent has taken more than the default 10 s.
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--request-timeout=45s"}, args...)...)
	cmd.Env = hermetic(c.cfg)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("skiff %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// hermetic is the environment without the user's skiff settings, pointed
// at the cluster's config.
func hermetic(cfg string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SKIFF_") {
			env = append(env, kv)
		}
	}
	return append(env, "SKIFF_CONFIG="+cfg)
}

func (c *vmCluster) apply(yaml string) {
	c.t.Helper()
	f := filepath.Join(c.t.TempDir(), "m.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if out, err := c.skiff("apply", "-f", f); err != nil {
		c.t.Fatalf("apply: %v\n%s", err, out)
	}
}

type podInfo struct {
	Name, Node, IP string
	Ready          bool
}

func (c *vmCluster) pods(selector string) ([]podInfo, error) {
	out, err := c.skiff("get", "pods", "-o", "json", "-l", selector)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Spec     struct{ NodeName string }
			Status   struct {
				PodIp      string
				Conditions []struct{ Type, Status string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("get pods -o json: %w\n%s", err, out)
	}
	var res []podInfo
	for _, it := range list.Items {
		p := podInfo{Name: it.Metadata.Name, Node: it.Spec.NodeName, IP: it.Status.PodIp}
		for _, cnd := range it.Status.Conditions {
			p.Ready = p.Ready || cnd.Type == "Ready" && cnd.Status == "True"
		}
		res = append(res, p)
	}
	return res, nil
}

// waitReady waits until want pods match selector, all ready, and ok
// accepts them.
func (c *vmCluster) waitReady(selector string, want int, d time.Duration, ok func([]podInfo) error) []podInfo {
	c.t.Helper()
	var last error
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(time.Second) {
		ps, err := c.pods(selector)
		if err != nil {
			last = err
			continue
		}
		ready := 0
		for _, p := range ps {
			if p.Ready && p.IP != "" {
				ready++
			}
		}
		if len(ps) != want || ready != want {
			last = fmt.Errorf("%d pods, %d ready: %+v", len(ps), ready, ps)
			continue
		}
		if last = ok(ps); last == nil {
			return ps
		}
	}
	c.t.Fatalf("pods %q: %v", selector, last)
	return nil
}

func (c *vmCluster) vmPID(node string) int {
	data, err := os.ReadFile(filepath.Join(c.stateDir, c.name, "nodes", node, "vm.pid"))
	if err != nil {
		c.t.Fatalf("%s's QEMU PID: %v", node, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// teardown deletes the cluster and checks that nothing of it is left: no
// QEMU process, namespace, tap or directory.
func (c *vmCluster) teardown() {
	if c.t.Failed() {
		for _, n := range []string{"node-1", "node-2"} {
			if data, err := os.ReadFile(filepath.Join(c.stateDir, c.name, "nodes", n, "console.log")); err == nil {
				c.t.Logf("--- %s console (tail):\n%s", n, lastLines(string(data), 40))
			}
		}
		if data, err := os.ReadFile(filepath.Join(c.stateDir, c.name, "server", "server.log")); err == nil {
			c.t.Logf("--- server log (tail):\n%s", lastLines(string(data), 30))
		}
	}
	if _, err := os.Stat(filepath.Join(c.stateDir, c.name)); err != nil {
		return // create never got far
	}
	// The guests' taps live in the lab namespace (none on the host): the
	// namespace going takes them.
	lab := "skiff-" + c.name + "-lab"
	if out, err := exec.Command("ip", "-n", lab, "-o", "link", "show", "type", "tun").Output(); err != nil ||
		!strings.Contains(string(out), "tap2") || !strings.Contains(string(out), "tap3") {
		c.t.Errorf("the taps are not in %s: %v\n%s", lab, err, out)
	}
	if out, err := c.cluster("cluster", "delete", "--name", c.name); err != nil {
		c.t.Errorf("cluster delete: %v\n%s", err, out)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(filepath.Join(c.stateDir, c.name))) {
			c.t.Errorf("a process of the cluster outlived delete: %s %q", p, b)
		}
	}
	if ns, _ := filepath.Glob("/run/netns/skiff-" + c.name + "-*"); len(ns) > 0 {
		c.t.Errorf("namespaces left after delete: %v", ns)
	}
	if _, err := os.Stat(filepath.Join(c.stateDir, c.name)); err == nil {
		c.t.Errorf("%s left after delete", filepath.Join(c.stateDir, c.name))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// staticSkiff builds the skiff binary and its shim without cgo (the guest
// has no C library; the product copies a dynamic binary's libraries in,
// but a static one is smaller to carry).
func staticSkiff(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range []struct{ out, pkg, tags string }{{"skiff", "./cmd/skiff", ""}, {"skiff-shim", "./cmd/skiff-shim", "seccomp_prebuilt"}} {
		cmd := exec.Command("go", "build", "-tags", b.tags, "-ldflags=-s -w", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return filepath.Join(dir, "skiff")
}

const vmPod = `apiVersion: skiff/v1
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
`

const vmService = `apiVersion: skiff/v1
kind: Service
metadata:
  name: pinned
spec:
  selector: {app: pinned}
  ports:
  - port: 80
    targetPort: 8080
`

const vmDeployment = `apiVersion: skiff/v1
kind: Deployment
metadata:
  name: movers
spec:
  replicas: 2
  selector:
    matchLabels: {app: movers}
  template:
    metadata:
      labels: {app: movers}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
        readinessProbe:
          httpGet: {port: 8080}
          periodSeconds: 1
`

// TestVMCluster makes a cluster of two QEMU guest nodes with the real
// binary (`skiff cluster create --vm`): pods on both guests, pod to pod
// across guests without NAT, cluster DNS from a pod, a guest killed
// (SIGKILL to its QEMU) and its pods made again on the other, and a
// delete that leaves nothing.
func TestVMCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("boots two emulated guests for minutes: skipped in -short")
	}
	t.Parallel()
	needs(t)
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces, taps)")
	}
	root := repoRoot(t)
	kernelDir := filepath.Join(root, ".cache", "vm")
	if _, err := qemu.FetchKernel(kernelDir); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	c := &vmCluster{t: t, bin: staticSkiff(t, root), name: "vm" + hex.EncodeToString(b),
		stateDir: t.TempDir(), runDir: t.TempDir(), kernelDir: kernelDir}
	c.cfg = filepath.Join(c.stateDir, c.name, "config")
	t.Cleanup(c.teardown)

	start := time.Now()
	out, err := c.cluster("cluster", "create", "--vm", "--nodes", "2", "--name", c.name,
		"--vm-kernel-dir", kernelDir, "--vm-memory", "640",
		// Node loss seen within the test.
		"--server-flag=--node-grace-period=10s", "--server-flag=--pod-eviction-timeout=5s")
	if err != nil {
		t.Fatalf("cluster create --vm: %v\n%s", err, out)
	}
	t.Logf("2-VM cluster created in %.1fs:\n%s", time.Since(start).Seconds(), out)
	for _, line := range strings.Split(out, "\n") {
		if _, img, ok := strings.Cut(line, "the busybox demo image is "); ok {
			c.image = strings.TrimSuffix(strings.TrimSpace(img), ")")
		}
	}
	if c.image == "" {
		t.Fatalf("no demo image in the create output:\n%s", out)
	}
	nodes, err := c.skiff("get", "nodes", "-o", "wide")
	if err != nil || strings.Count(nodes, " Ready ") != 2 {
		t.Fatalf("get nodes: %v\n%s", err, nodes)
	}

	// Pods on both guests; the receiver sees the sender's pod IP.
	c.apply(fmt.Sprintf(vmPod, "pinned-1", "node-1", c.image) + "---\n" + fmt.Sprintf(vmPod, "pinned-2", "node-2", c.image) + "---\n" + vmService)
	ps := c.waitReady("app=pinned", 2, 3*time.Minute, func(ps []podInfo) error {
		for _, p := range ps {
			if p.Node != strings.Replace(p.Name, "pinned", "node", 1) {
				return fmt.Errorf("%s on %s", p.Name, p.Node)
			}
		}
		return nil
	})
	t.Logf("pods ready on both guests at %.1fs", time.Since(start).Seconds())
	a, bb := ps[0], ps[1]
	if a.Name != "pinned-1" {
		a, bb = bb, a
	}
	if out, err := c.skiff("exec", a.Name, "--", "wget", "-q", "-O", "-", "http://"+bb.IP+":8080/"); err != nil || !strings.Contains(out, "Hello") {
		t.Fatalf("HTTP from node-1's pod to node-2's: %v\n%s", err, out)
	}
	if out, err := c.skiff("logs", bb.Name); err != nil || !strings.Contains(out, ":"+a.IP+"]:") {
		t.Fatalf("node-2's pod did not see node-1's pod IP %s as the client (NAT?): %v\n%s", a.IP, err, out)
	}

	// Cluster DNS from a pod: the service's name resolves to its ClusterIP.
	out, err = c.skiff("get", "svc", "pinned", "-o", "json")
	var svc struct{ Spec struct{ ClusterIp string } }
	if err == nil {
		err = json.Unmarshal([]byte(out), &svc)
	}
	vip := svc.Spec.ClusterIp
	if err != nil || vip == "" {
		t.Fatalf("ClusterIP of pinned: %v\n%s", err, out)
	}
	if out, err := c.skiff("exec", bb.Name, "--", "nslookup", "pinned.default.svc.cluster.local"); err != nil || !strings.Contains(out, vip) {
		t.Fatalf("nslookup pinned from node-2's pod: %v: want %s in\n%s", err, vip, out)
	}

	t.Logf("cross-node traffic and DNS checked at %.1fs", time.Since(start).Seconds())
	// A guest dies: the pods it ran come back on the other one.
	c.apply(fmt.Sprintf(vmDeployment, c.image))
	movers := c.waitReady("app=movers", 2, 3*time.Minute, func([]podInfo) error { return nil })
	lost := movers[0].Node
	pid := c.vmPID(lost)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s's QEMU (pid %d): %v", lost, pid, err)
	}
	killed := time.Now()
	c.waitReady("app=movers", 2, 3*time.Minute, func(ps []podInfo) error {
		for _, p := range ps {
			if p.Node == lost {
				return fmt.Errorf("%s still on %s", p.Name, lost)
			}
		}
		return nil
	})
	t.Logf("pods of the killed %s ready on the other node %.1fs after the kill", lost, time.Since(killed).Seconds())
	if out, err := c.skiff("get", "nodes"); err != nil || !strings.Contains(out, lost+" ") || strings.Contains(lineOf(out, lost), " Ready ") {
		t.Fatalf("get nodes after %s was killed: %v\n%s", lost, err, out)
	}
}

func lineOf(table, first string) string {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, first+" ") {
			return line + " "
		}
	}
	return ""
}
