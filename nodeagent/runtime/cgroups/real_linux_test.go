package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func testParent() string { return fmt.Sprintf("skiff-cgtest-%d", os.Getpid()) }

func TestV1RealFreezeAndLimits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if Detect("") != ModeV1 {
		t.Skip("host has no v1 hierarchies")
	}
	if _, err := os.Stat("/sys/fs/cgroup/freezer"); err != nil {
		t.Skip("no v1 freezer hierarchy")
	}
	cfg := Config{Parent: testParent()}
	m, _ := New(cfg, ModeV1, "pod/c")
	parent, _ := New(cfg, ModeV1, ".")
	t.Cleanup(func() {
		if err := parent.Destroy(); err != nil {
			t.Error(err)
		}
	})
	if err := m.Create(Resources{CPUShares: 256, MemoryLimit: 64 << 20, PidsLimit: 10, RestrictDevices: true}); err != nil {
		t.Fatal(err)
	}
	v := victim(t)
	if err := m.Apply(v.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// (Memory charged before the move stays with the old cgroup in v1.)
	if s.Pids != 1 {
		t.Errorf("stats %+v", s)
	}
	// Destroy of a frozen cgroup must still kill and remove it.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, v)
	if _, err := os.Stat(m.Path("memory")); !os.IsNotExist(err) {
		t.Error("memory cgroup left")
	}
}

// TestV2RealUnified exercises the v2 code on this host's cgroup2 mount:
// on a hybrid host it has no cpu/memory/pids controllers, but cgroup.procs,
// cgroup.freeze and cgroup.kill are real.
func TestV2RealUnified(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := "/sys/fs/cgroup/unified"
	if Detect("") == ModeV2 {
		root = DefaultRoot
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
		t.Skip("no cgroup2 mount at " + root)
	}
	cfg := Config{Root: root, Parent: testParent()}
	m, _ := New(cfg, ModeV2, "pod/c")
	parent, _ := New(cfg, ModeV2, ".")
	t.Cleanup(func() {
		if err := parent.Destroy(); err != nil {
			t.Error(err)
		}
	})
	if err := m.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	v := victim(t)
	if err := m.Apply(v.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if pids, _ := m.Pids(); len(pids) != 1 || pids[0] != v.Process.Pid {
		t.Errorf("pids %v", pids)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, v)
	if _, err := os.Stat(m.Path("")); !os.IsNotExist(err) {
		t.Error("cgroup left")
	}
}

// TestV2DeviceProgram runs a shell in a cgroup with the device program
// attached and in one without: the program lets it make any node and open
// /dev/null's, but refuses to open a block device (loop0) or /dev/mem's
// number with EPERM, which the other cgroup opens. On a hybrid host it
// runs on the cgroup2 mount beside the v1 hierarchies.
func TestV2DeviceProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := "/sys/fs/cgroup/unified"
	if Detect("") == ModeV2 {
		root = DefaultRoot
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
		t.Skip("no cgroup2 mount at " + root)
	}
	if _, err := os.Stat("/sys/dev/block/7:0"); err != nil {
		t.Fatalf("no loop0 (7:0) to open: load the loop module: %v", err)
	}
	cfg := Config{Root: root, Parent: testParent()}
	parent, _ := New(cfg, ModeV2, ".")
	t.Cleanup(func() {
		if err := parent.Destroy(); err != nil {
			t.Error(err)
		}
	})
	locked, _ := New(cfg, ModeV2, "locked")
	open, _ := New(cfg, ModeV2, "open")
	if !locked.RestrictsDevices() {
		t.Fatal("this kernel loads no cgroup device program")
	}
	if err := locked.Create(Resources{RestrictDevices: true}); err != nil {
		t.Fatal(err)
	}
	if err := open.Create(Resources{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nodes := []struct {
		name         string
		typ          uint32
		major, minor uint32
	}{{"null", unix.S_IFCHR, 1, 3}, {"mem", unix.S_IFCHR, 1, 1}, {"blk", unix.S_IFBLK, 7, 0}}
	for _, n := range nodes {
		if err := unix.Mknod(filepath.Join(dir, n.name), n.typ|0o600, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Fatal(err)
		}
	}
	script := `cd "$1"
for n in null mem blk; do { true <"$n"; } 2>/dev/null && echo "$n: opened" || echo "$n: $({ true <"$n"; } 2>&1)"; done
mknod made b 7 0 && echo "mknod: made"`
	shell := func(m Manager) string {
		fd, err := unix.Open(m.Path(""), unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		os.Remove(filepath.Join(dir, "made"))
		cmd := exec.Command("/bin/busybox", "sh", "-c", script, "sh", dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return string(out)
	}
	got := shell(locked)
	for _, want := range []string{"null: opened", "mknod: made"} {
		if !strings.Contains(got, want) {
			t.Errorf("with the device program: want %q in\n%s", want, got)
		}
	}
	lines := map[string]string{}
	for _, line := range strings.Split(got, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			lines[k] = v
		}
	}
	for _, n := range []string{"mem", "blk"} {
		if !strings.Contains(lines[n], "Operation not permitted") {
			t.Errorf("with the device program, opening %s was not refused with EPERM:\n%s", n, got)
		}
	}
	// The control: without the program the same shell opens the block
	// device, so the refusal above is the program's.
	if got := shell(open); !strings.Contains(got, "blk: opened") {
		t.Errorf("without the device program: want blk opened:\n%s", got)
	}
}
