package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

// The cpuset levels skiff makes pass cpus and mems down by
// cgroup.clone_children; a level made by someone else without them (an
// older skiff's parent) is filled in by hand, and either way a container's
// cgroup takes tasks.
func TestV1RealCpusetLevelsTakeTasks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if Detect("") != ModeV1 {
		t.Skip("host has no v1 hierarchies")
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpuset"); err != nil {
		t.Skip("no v1 cpuset hierarchy")
	}
	rootCpus, err := readFile("/sys/fs/cgroup/cpuset", "cpuset.cpus")
	if err != nil {
		t.Fatal(err)
	}
	for _, premade := range []bool{false, true} {
		cfg := Config{Parent: testParent()}
		parent, _ := New(cfg, ModeV1, ".")
		if premade {
			// A parent made without clone_children: empty cpus and mems.
			if err := os.Mkdir(filepath.Join("/sys/fs/cgroup/cpuset", cfg.Parent), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, path := range []string{"pod/a", "pod/b"} {
			m, _ := New(cfg, ModeV1, path)
			if err := m.Create(Resources{}); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if v, err := readFile(m.Path("cpuset"), f); err != nil || v == "" {
					t.Errorf("premade=%v %s: %s = %q, %v", premade, path, f, v, err)
				}
			}
			if v, _ := readFile(m.Path("cpuset"), "cpuset.cpus"); v != rootCpus {
				t.Errorf("premade=%v %s: cpus %q, want the root's %q", premade, path, v, rootCpus)
			}
			v := victim(t)
			if err := m.Apply(v.Process.Pid); err != nil {
				t.Errorf("premade=%v %s: %v", premade, path, err)
			}
			if err := m.Destroy(); err != nil {
				t.Error(err)
			}
			waitExit(t, v)
		}
		pod := filepath.Join("/sys/fs/cgroup/cpuset", cfg.Parent, "pod")
		if v, err := readFile(pod, "cgroup.clone_children"); err != nil || v != "1" {
			t.Errorf("premade=%v: the pod level's clone_children = %q, %v; want 1", premade, v, err)
		}
		if err := parent.Destroy(); err != nil {
			t.Fatal(err)
		}
	}
}
