package cgroups

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// victim starts a process the test may kill.
func victim(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary")
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func waitExit(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("process not killed")
	}
}

func TestDetect(t *testing.T) {
	root := t.TempDir()
	if Detect(root) != ModeV1 {
		t.Error("empty root should be v1")
	}
	write(t, filepath.Join(root, "cgroup.controllers"), "cpu memory")
	if Detect(root) != ModeV2 {
		t.Error("root with cgroup.controllers should be v2")
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 2: 1, 1024: 39, 262144: 10000, 1 << 30: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestNewRejectsEscapingPaths(t *testing.T) {
	for _, p := range []string{"/abs", "../up", "a/../../b", ".."} {
		if _, err := New(Config{Root: t.TempDir()}, ModeV1, p); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

// fakeV2 lays out a unified hierarchy the way the kernel would show it
// once the parents delegate their controllers.
func fakeV2(t *testing.T, levels ...string) string {
	root := t.TempDir()
	dir := root
	write(t, filepath.Join(dir, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids")
	write(t, filepath.Join(dir, "cgroup.subtree_control"), "")
	for _, l := range levels {
		dir = filepath.Join(dir, l)
		write(t, filepath.Join(dir, "cgroup.controllers"), "cpuset cpu memory pids")
		write(t, filepath.Join(dir, "cgroup.subtree_control"), "")
		write(t, filepath.Join(dir, "cgroup.events"), "populated 0\nfrozen 0\n")
	}
	return root
}

func TestV2FakeTree(t *testing.T) {
	root := fakeV2(t, "skiff", "pod-a", "c1")
	m, err := New(Config{Root: root}, ModeV2, "pod-a/c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(Resources{CPUShares: 1024, CPUQuotaUs: 50000, MemoryLimit: 64 << 20, PidsLimit: 100}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "skiff", "pod-a", "c1")
	if m.Path("memory") != dir {
		t.Errorf("path %s", m.Path("memory"))
	}
	for _, d := range []string{root, filepath.Join(root, "skiff"), filepath.Join(root, "skiff", "pod-a")} {
		if got := read(t, filepath.Join(d, "cgroup.subtree_control")); got != "+cpu +cpuset +memory +pids" {
			t.Errorf("%s subtree_control = %q", d, got)
		}
	}
	for file, want := range map[string]string{"cpu.weight": "39", "cpu.max": "50000 100000", "memory.max": strconv.Itoa(64 << 20), "pids.max": "100"} {
		if got := read(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// A plain directory takes no eBPF program: asked to restrict
	// devices there, Set says so.
	if m.RestrictsDevices() {
		t.Error("v2 on a fake tree claims to restrict devices")
	}
	if err := m.Set(Resources{RestrictDevices: true}); err == nil || !strings.Contains(err.Error(), "cannot restrict devices") {
		t.Errorf("restricting devices on a fake tree: %v", err)
	}
	v := victim(t)
	if err := m.Apply(v.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if pids, _ := m.Pids(); len(pids) != 1 || pids[0] != v.Process.Pid {
		t.Errorf("pids %v", pids)
	}
	write(t, filepath.Join(dir, "cgroup.events"), "populated 1\nfrozen 1\n")
	if err := m.Freeze(); err != nil || read(t, filepath.Join(dir, "cgroup.freeze")) != "1" {
		t.Errorf("freeze: %v", err)
	}
	write(t, filepath.Join(dir, "cgroup.events"), "populated 1\nfrozen 0\n")
	if err := m.Thaw(); err != nil || read(t, filepath.Join(dir, "cgroup.freeze")) != "0" {
		t.Errorf("thaw: %v", err)
	}
	write(t, filepath.Join(dir, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\n")
	write(t, filepath.Join(dir, "memory.current"), "1000000\n")
	write(t, filepath.Join(dir, "memory.stat"), "anon 600000\ninactive_file 300000\n")
	write(t, filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n")
	write(t, filepath.Join(dir, "pids.current"), "3\n")
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{CPUUsageNs: 1500000, MemoryUsage: 1000000, MemoryWorkingSet: 700000, Pids: 3, OOMKills: 2}
	if s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, v)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup dir left: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second destroy: %v", err)
	}
}

func TestV2MissingControllerIsAnError(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "cgroup.controllers"), "hugetlb")
	dir := filepath.Join(root, "skiff", "x")
	write(t, filepath.Join(dir, "cgroup.controllers"), "")
	write(t, filepath.Join(root, "skiff", "cgroup.controllers"), "")
	m, _ := New(Config{Root: root}, ModeV2, "x")
	if err := m.Create(Resources{}); err != nil {
		t.Fatalf("create without limits: %v", err)
	}
	if err := m.Set(Resources{MemoryLimit: 1 << 20}); err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf("memory limit without the controller: %v", err)
	}
}

func fakeV1(t *testing.T) string {
	root := t.TempDir()
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"} {
		if err := os.MkdirAll(filepath.Join(root, c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(root, "cpuset", "cpuset.cpus"), "0-1")
	write(t, filepath.Join(root, "cpuset", "cpuset.mems"), "0")
	return root
}

func TestV1FakeTree(t *testing.T) {
	root := fakeV1(t)
	m, err := New(Config{Root: root, Parent: "sk"}, ModeV1, "pod-b/c2")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(Resources{CPUShares: 512, CPUQuotaUs: 25000, CPUPeriodUs: 50000, MemoryLimit: 1 << 20, PidsLimit: 7, RestrictDevices: true}); err != nil {
		t.Fatal(err)
	}
	p := func(c, f string) string { return filepath.Join(root, c, "sk", "pod-b", "c2", f) }
	for file, want := range map[string]string{
		p("cpu", "cpu.shares"): "512", p("cpu", "cpu.cfs_quota_us"): "25000", p("cpu", "cpu.cfs_period_us"): "50000",
		p("memory", "memory.limit_in_bytes"): "1048576", p("pids", "pids.max"): "7",
		p("cpuset", "cpuset.cpus"): "0-1", p("cpuset", "cpuset.mems"): "0",
		filepath.Join(root, "cpuset", "sk", "cpuset.cpus"): "0-1",
		p("devices", "devices.allow"):                      "c 136:* rwm", // the last rule written
	} {
		if got := read(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if read(t, p("devices", "devices.deny")) != "a" || !m.RestrictsDevices() {
		t.Error("devices not restricted")
	}
	v := victim(t)
	if err := m.Apply(v.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if got := read(t, p("memory", "cgroup.procs")); got != strconv.Itoa(v.Process.Pid) {
		t.Errorf("memory cgroup.procs = %q", got)
	}
	if err := m.Freeze(); err != nil || read(t, p("freezer", "freezer.state")) != "FROZEN" {
		t.Errorf("freeze: %v", err)
	}
	if err := m.Thaw(); err != nil {
		t.Error(err)
	}
	write(t, p("cpuacct", "cpuacct.usage"), "123456789")
	write(t, p("memory", "memory.usage_in_bytes"), "5000")
	write(t, p("memory", "memory.stat"), "cache 100\ninactive_file 50\ntotal_inactive_file 1000\n")
	write(t, p("memory", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
	write(t, p("pids", "pids.current"), "2")
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{CPUUsageNs: 123456789, MemoryUsage: 5000, MemoryWorkingSet: 4000, Pids: 2, OOMKills: 1}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, v)
	for _, c := range []string{"cpu", "memory", "freezer"} {
		if _, err := os.Stat(filepath.Join(root, c, "sk", "pod-b", "c2")); !os.IsNotExist(err) {
			t.Errorf("%s cgroup left", c)
		}
	}
}
