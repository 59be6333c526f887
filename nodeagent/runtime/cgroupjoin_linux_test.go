package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The container's first process is in the container's cgroup in every
// hierarchy the runtime uses, whether it moved itself there (v1: the
// script init writes to the tasks files) or was moved (v2).
func TestInitIsInTheContainersCgroup(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	startSleeper(t, r, "cg", []string{layer})
	st, err := r.State("cg")
	if err != nil || st.Pid == 0 {
		t.Fatalf("state %+v: %v", st, err)
	}
	cg, err := r.cgroup("cg")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	// Lines are ID:CONTROLLERS:PATH; the path below the hierarchy's root.
	in := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 {
			for _, c := range strings.Split(f[1], ",") {
				in[c] = f[2]
			}
		}
	}
	checked := 0
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", ""} {
		dir := cg.Path(c)
		if _, err := os.Stat(dir); err != nil {
			continue // not a hierarchy of this host
		}
		path, ok := in[c]
		if !ok {
			continue // v2 has only "", v1 no ""
		}
		if !strings.HasSuffix(dir, filepath.Clean(path)) || path == "/" {
			t.Errorf("controller %q: the init is in %s, want the container's %s", c, path, dir)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("no hierarchy checked; /proc/%d/cgroup:\n%s", st.Pid, b)
	}
}
