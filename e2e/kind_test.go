package e2e

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
)

// MultiNode is a cluster of several nodes, with the faults tests inject.
type MultiNode interface {
	Cluster
	// Nodes are the node names, the server's first.
	Nodes() []string
	// InNodeOf runs a command in a node's network namespace.
	InNodeOf(node string, args ...string) (string, error)
	// Image is the demo image's reference in the cluster's registry.
	Image() string
	// Signal sends sig to a node's "agent" or "server" process and waits
	// until it is gone.
	Signal(node, role string, sig syscall.Signal)
	// Heal starts whatever process of the cluster is down.
	Heal()
	// CutLink takes a node off the lab bridge.
	CutLink(node string)
}

// kindCluster is `skiff cluster create`: nodes in network namespaces on a
// lab bridge with no route out, driven through the binary.
type kindCluster struct {
	t        *testing.T
	bin      string
	name     string
	stateDir string
	runDir   string
	nodes    int
	image    string
}

// newKindCluster creates a cluster of n nodes and deletes it when the test
// ends, on failure too (the delete removes pods through the agents, then
// processes, namespaces, veths and mounts).
func newKindCluster(t *testing.T, n int, serverFlags ...string) *kindCluster {
	t.Helper()
	requireRoot(t)
	b := make([]byte, 3)
	rand.Read(b)
	c := &kindCluster{t: t, bin: skiffBinary(t), name: "e2e" + hex.EncodeToString(b), stateDir: t.TempDir(), runDir: t.TempDir(), nodes: n}
	args := []string{"cluster", "create", "--name", c.name, "--nodes", strconv.Itoa(n)}
	for _, f := range serverFlags {
		args = append(args, "--server-flag="+f)
	}
	t.Cleanup(c.teardown)
	start := time.Now()
	out, err := c.clusterCmd(args...)
	if err != nil {
		t.Fatalf("cluster create: %v\n%s", err, out)
	}
	t.Logf("%d-node cluster %s created in %.1fs", n, c.name, time.Since(start).Seconds())
	for _, line := range strings.Split(out, "\n") {
		if _, img, ok := strings.Cut(line, "the busybox demo image is "); ok {
			c.image = strings.TrimSuffix(strings.TrimSpace(img), ")")
		}
	}
	if c.image == "" {
		t.Fatalf("no demo image in the create output:\n%s", out)
	}
	return c
}

func (c *kindCluster) clusterCmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(args, "--state-dir", c.stateDir, "--run-dir", c.runDir)...)
	cmd.Env = append(os.Environ(), "SKIFF_CONFIG="+c.configFile())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *kindCluster) configFile() string { return filepath.Join(c.stateDir, c.name, "config") }
func (c *kindCluster) nodeDir(node string) string {
	return filepath.Join(c.stateDir, c.name, "nodes", node)
}

func (c *kindCluster) Nodes() []string {
	out := make([]string, c.nodes)
	for i := range out {
		out[i] = fmt.Sprintf("node-%d", i+1)
	}
	return out
}

func (c *kindCluster) Image() string { return c.image }

// Skiff runs the command line on the host: it reaches the server through
// the host's veth into the lab.
func (c *kindCluster) Skiff(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), "SKIFF_CONFIG="+c.configFile())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("skiff %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

func (c *kindCluster) Stop() {
	c.t.Helper()
	if out, err := c.clusterCmd("cluster", "stop", "--name", c.name); err != nil {
		c.t.Fatalf("cluster stop: %v\n%s", err, out)
	}
}

func (c *kindCluster) Start() {
	c.t.Helper()
	if out, err := c.clusterCmd("cluster", "start", "--name", c.name); err != nil {
		c.t.Fatalf("cluster start: %v\n%s", err, out)
	}
}

func (c *kindCluster) Heal() { c.Start() }

// Kill ends every process of the cluster with SIGKILL.
func (c *kindCluster) Kill() {
	c.t.Helper()
	for _, node := range c.Nodes() {
		for _, role := range []string{"agent", "server"} {
			if _, err := os.Stat(filepath.Join(c.nodeDir(node), role+".pid")); err == nil {
				c.Signal(node, role, syscall.SIGKILL)
			}
		}
	}
}

func (c *kindCluster) InNode(args ...string) (string, error) { return c.InNodeOf("node-1", args...) }

func (c *kindCluster) InNodeOf(node string, args ...string) (string, error) {
	ns := fmt.Sprintf("/run/netns/skiff-%s-%s", c.name, node)
	out, err := exec.Command("nsenter", append([]string{"--net=" + ns, "--"}, args...)...).CombinedOutput()
	return string(out), err
}

func (c *kindCluster) Signal(node, role string, sig syscall.Signal) {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(c.nodeDir(node), role+".pid"))
	if err != nil {
		c.t.Fatalf("%s of %s: %v", role, node, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pid <= 1 {
		c.t.Fatalf("%s of %s: bad pid file", role, node)
	}
	// Only a process that is still this node's (PIDs get reused).
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmdline), c.nodeDir(node)) {
		return
	}
	syscall.Kill(pid, sig)
	// Wait until it is gone (it is not our child: poll /proc).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("%s of %s (pid %d) still runs 30s after signal %v", role, node, pid, sig)
}

func (c *kindCluster) CutLink(node string) {
	c.t.Helper()
	lab := fmt.Sprintf("/run/netns/skiff-%s-lab", c.name)
	if out, err := exec.Command("nsenter", "--net="+lab, "--", "ip", "link", "set", node, "down").CombinedOutput(); err != nil {
		c.t.Fatalf("cut %s: %v: %s", node, err, out)
	}
}

func (c *kindCluster) teardown() {
	if c.t.Failed() {
		for _, node := range c.Nodes() {
			for _, role := range []string{"server", "agent"} {
				if data, err := os.ReadFile(filepath.Join(c.nodeDir(node), role+".log")); err == nil {
					c.t.Logf("--- %s %s log (tail):\n%s", node, role, tail(string(data), 40))
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(c.stateDir, c.name)); err != nil {
		return // create never got far
	}
	if out, err := c.clusterCmd("cluster", "delete", "--name", c.name); err != nil {
		c.t.Errorf("cluster delete: %v\n%s", err, out)
	}
	// Nothing of the cluster may be left on the host.
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "skiff-"+c.name+"-") {
		c.t.Errorf("namespaces left after delete:\n%s", out)
	}
	if mounts, _ := os.ReadFile("/proc/mounts"); strings.Contains(string(mounts), c.stateDir) || strings.Contains(string(mounts), c.runDir) {
		c.t.Errorf("mounts left after delete")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// podInfo is what tests read of a pod.
type podInfo struct {
	Name, Node, IP, Phase string
	Ready                 bool
	ContainerID           string
	Restarts              int
}

// pods lists pods (optionally by label selector) through `skiff get -o json`.
func pods(c Cluster, selector string) ([]podInfo, error) {
	args := []string{"get", "pods", "-o", "json"}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := c.Skiff(args...)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Spec     struct{ NodeName string }
			Status   struct {
				Phase             string
				PodIp             string
				Conditions        []struct{ Type, Status string }
				ContainerStatuses []struct {
					ContainerId  string
					RestartCount int
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("get pods -o json: %w\n%s", err, out)
	}
	var res []podInfo
	for _, it := range list.Items {
		p := podInfo{Name: it.Metadata.Name, Node: it.Spec.NodeName, IP: it.Status.PodIp, Phase: it.Status.Phase}
		for _, cnd := range it.Status.Conditions {
			if cnd.Type == "Ready" && cnd.Status == "True" {
				p.Ready = true
			}
		}
		for _, cs := range it.Status.ContainerStatuses {
			p.ContainerID, p.Restarts = cs.ContainerId, cs.RestartCount
		}
		res = append(res, p)
	}
	return res, nil
}

// waitPods waits until want pods match selector and are ready.
func waitPods(t *testing.T, c Cluster, selector string, want int) []podInfo {
	t.Helper()
	var got []podInfo
	eventually(t, fmt.Sprintf("%d ready pods %q", want, selector), func() error {
		ps, err := pods(c, selector)
		if err != nil {
			return err
		}
		got = got[:0]
		for _, p := range ps {
			if p.Ready && p.IP != "" {
				got = append(got, p)
			}
		}
		if len(got) != want || len(ps) != want {
			return fmt.Errorf("%d pods, %d ready: %+v", len(ps), len(got), ps)
		}
		return nil
	})
	return got
}
