package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

func TestHundredContainersLeaveNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("100 containers: skipped in -short")
	}
	r := newTestRuntime(t)
	// Half the cycles from warm supervisors, half cold.
	r.pool = newSupervisorPool(1, r.startSupervisor)
	layer := busyboxRootfs(t)
	n := 100
	if raceEnabled {
		n = 10 // a race-instrumented init takes ~1s to start
	}
	// The VM tier's emulated CPU starts a container in seconds, not
	// milliseconds; its run keeps the same checks over fewer cycles.
	if v, err := strconv.Atoi(os.Getenv("SKIFF_TEST_LEAK_CYCLES")); err == nil && v > 0 {
		n = v
	}
	if _, err := r.CreateSandbox(SandboxSpec{ID: "leakpod", Hostname: "leak"}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("leak-%03d", i)
		spec := shSpec(id, []string{layer}, "echo $$")
		if i%2 == 0 {
			spec.SandboxID = "leakpod"
		}
		spec.Resources.MemoryLimit = 64 << 20
		st, out := run(t, r, spec)
		if st.ExitCode != 0 || out != "1\n" {
			t.Fatalf("%s: %+v %q", id, st, out)
		}
		if err := r.Remove(bgCtx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RemoveSandbox("leakpod"); err != nil {
		t.Fatal(err)
	}
	if sts, err := r.List(); err != nil || len(sts) != 0 {
		t.Errorf("containers left: %+v %v", sts, err)
	}
	// Other tests on this machine mount things too: look for ours.
	for _, m := range mountLines(t) {
		if strings.Contains(m, r.cfg.StateDir) || strings.Contains(m, r.cfg.RunDir) {
			t.Errorf("mount left: %s", m)
		}
	}
	// Only the (empty) parent cgroup may remain in each hierarchy: one
	// per controller on v1, the unified tree on v2.
	parent, err := r.cgroup(".")
	if err != nil {
		t.Fatal(err)
	}
	walked := map[string]bool{}
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"} {
		dir := parent.Path(c)
		if walked[dir] {
			continue
		}
		walked[dir] = true
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && p != dir {
				t.Errorf("cgroup left: %s", p)
			}
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroups of %s: %v", c, err)
		}
	}
	if r.cfg.CgroupMode == cgroups.ModeV2 {
		if _, err := os.Stat(parent.Path("")); err != nil {
			t.Errorf("the parent cgroup itself: %v", err)
		}
	}
	if procs := processesMentioning(t, r.cfg.StateDir); len(procs) > 0 {
		t.Errorf("processes left: %v", procs)
	}
	// Closing the runtime ends its idle warm supervisor and that one's init.
	r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids := childrenNamed(supervisorArg)
		if len(kids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("idle supervisors left: %v", kids)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ents, err := os.ReadDir(r.cfg.containersDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Error(err)
	}
	if len(ents) != 0 {
		t.Errorf("state dirs left: %d", len(ents))
	}
}

func mountLines(t *testing.T) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// processesMentioning lists processes whose command line names s.
func processesMentioning(t *testing.T, s string) []string {
	var out []string
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// childrenNamed lists our child processes whose command line holds arg.
func childrenNamed(arg string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	me := fmt.Sprintf(" %d ", os.Getpid())
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Field 4 is the parent pid; skip the comm field, which may hold spaces.
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || " "+f[1]+" " != me {
			continue
		}
		if f[0] == "Z" {
			continue // exited, not yet reaped by cmd.Wait
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmd), arg) {
			out = append(out, e.Name())
		}
	}
	return out
}
