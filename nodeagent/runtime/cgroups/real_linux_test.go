package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
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
