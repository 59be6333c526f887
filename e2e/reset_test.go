package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// `skiff reset --data` after `skiff up` leaves nothing of skiff: the
// cluster is stopped first (its containers keep running, by design), and
// reset, run with the same directories in the same network namespace,
// works from what is on the machine alone.
func TestResetLeavesNothing(t *testing.T) {
	c := newUpCluster(t)
	pod := `apiVersion: skiff/v1
kind: Pod
metadata: {name: sleeper}
spec:
  containers:
  - name: main
    image: 127.0.0.1:5000/demo:latest
    command: [sleep, "100000"]
`
	if out, err := c.SkiffIn(pod, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v %s", err, out)
	}
	eventually(t, "sleeper running", func() error {
		out, err := c.Skiff("get", "pod", "sleeper")
		if err != nil || !strings.Contains(out, "Running") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	sandboxes, err := os.ReadDir(filepath.Join(c.runDir, "runtime", "sandboxes"))
	if err != nil || len(sandboxes) == 0 {
		t.Fatalf("no sandbox in the run dir: %v", err)
	}
	var cgroupDirs []string
	for _, sb := range sandboxes {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "skiff", "pod-"+sb.Name()))
		cgroupDirs = append(cgroupDirs, dirs...)
	}
	pids := cgroupPids(cgroupDirs)
	if len(cgroupDirs) == 0 || len(pids) == 0 {
		t.Fatalf("the pod has no cgroups (%v) or processes (%v)", cgroupDirs, pids)
	}

	c.Stop()
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("container process %d ended with skiff up: the test shows nothing", pid)
		}
	}
	clientDir := t.TempDir()
	out, err := c.InNode(c.bin, "reset", "--data", "--data-dir", c.dataDir, "--run-dir", c.runDir, "--client-dir", clientDir)
	if err != nil {
		t.Fatalf("skiff reset: %v\n%s", err, out)
	}
	c.gone = true // nothing left to tear down
	t.Logf("skiff reset:\n%s", out)
	for _, want := range []string{"removed container", "removed sandbox", "removed bridge skiff0", "removed bridge skiff-svc", "removed route blackhole 10.88.0.0/16", "removed nftables table ip skiff", "removed " + c.dataDir, "removed " + c.runDir} {
		if !strings.Contains(out, want) {
			t.Errorf("reset did not say %q", want)
		}
	}

	// No processes: the container's, or any left in the node's namespace.
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("container process %d still runs", pid)
		}
	}
	if left := pidsInNetNS(t, "/run/netns/"+c.ns); len(left) > 0 {
		t.Errorf("processes left in the node's network namespace: %v", left)
	}
	// No mounts under its directories.
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (strings.HasPrefix(f[4], c.dataDir) || strings.HasPrefix(f[4], c.runDir)) {
			t.Errorf("mount left: %s", line)
		}
	}
	// No cgroups of its pods.
	for _, d := range cgroupDirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup left: %s", d)
		}
	}
	// Nothing in the node's network: bridge, routes, nftables table.
	if out, err := c.InNode("ip", "-o", "link", "show"); err != nil || strings.Contains(out, "skiff0") || strings.Contains(out, "skv") {
		t.Errorf("links left (%v):\n%s", err, out)
	}
	if out, err := c.InNode("ip", "route", "show", "proto", "115"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("skiff's routes left (%v):\n%s", err, out)
	}
	if out, err := c.InNode("ip", "rule", "show"); err != nil || strings.Contains(out, "lookup 2946") {
		t.Errorf("skiff's rule for the node's service traffic left (%v):\n%s", err, out)
	}
	if out, err := c.InNode("nft", "list", "tables"); err != nil || strings.Contains(out, "skiff") {
		t.Errorf("nftables left (%v):\n%s", err, out)
	}
	// Its directories are gone.
	for _, d := range []string{c.dataDir, c.runDir, clientDir} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is still there", d)
		}
	}
	// A second reset finds nothing of this cluster. (Skiff's empty parent
	// cgroups may be there again: other tests on the machine share them.)
	out, err = c.InNode(c.bin, "reset", "--data", "--data-dir", c.dataDir, "--run-dir", c.runDir, "--client-dir", clientDir)
	if err != nil {
		t.Fatalf("second reset: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "nothing of skiff found" && !(strings.HasPrefix(line, "removed cgroup /sys/fs/cgroup/") && strings.HasSuffix(line, "/skiff")) {
			t.Errorf("second reset found something: %q", line)
		}
	}
}

// cgroupPids lists the processes in the cgroup trees at dirs.
func cgroupPids(dirs []string) []int {
	seen := map[int]bool{}
	var out []int
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					out = append(out, pid)
				}
			}
			return nil
		})
	}
	return out
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// pidsInNetNS lists the live processes in the network namespace at path.
func pidsInNetNS(t *testing.T, path string) []int {
	t.Helper()
	var want unix.Stat_t
	if err := unix.Stat(path, &want); err != nil {
		t.Fatal(err)
	}
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}
