package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The container's first process, and a process Exec starts in it, are in
// the container's cgroup in every hierarchy the runtime uses, whether they
// moved themselves there (v1: the script writes to the tasks files) or
// were moved (v2).
func TestInitAndExecAreInTheContainersCgroup(t *testing.T) {
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
	// Seen from the container's cgroup namespace, which Exec enters after
	// the move, its own cgroup is "/": from anywhere else it would read
	// as a path up and out ("/..").
	var out bytes.Buffer
	code, err := r.Exec(bgCtx(t), "cg", ExecSpec{Command: []string{"cat", "/proc/self/cgroup"}, Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v: %s", code, err, out.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && f[2] != "/" && in[f[1]] != "/" {
			t.Errorf("exec'd process outside the container's cgroup: %q", line)
		}
	}
}
