package runtime

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	shimOnce sync.Once
	shimPath string
	shimErr  error
)

// builtShim builds cmd/skiff-shim once per test binary.
func builtShim(t *testing.T) string {
	t.Helper()
	shimOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-shim-bin-")
		if err != nil {
			shimErr = err
			return
		}
		shimPath = filepath.Join(dir, "skiff-shim")
		if out, err := exec.Command("go", "build", "-tags", "seccomp_prebuilt", "-o", shimPath, "../../cmd/skiff-shim").CombinedOutput(); err != nil {
			shimErr = err
			t.Logf("go build: %s", out)
		}
	})
	if shimErr != nil {
		t.Fatalf("build skiff-shim: %v", shimErr)
	}
	return shimPath
}

// newShimRuntime is newTestRuntime with containers started from the shim.
func newShimRuntime(t *testing.T, binary string) *Runtime {
	t.Helper()
	r := newTestRuntime(t)
	r.cfg.Binary = binary
	return r
}

func TestShimSupervisesInitsAndExecs(t *testing.T) {
	shim := builtShim(t)
	if err := CheckShim(shim); err != nil {
		t.Fatal(err)
	}
	r := newShimRuntime(t, shim)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)
	if _, err := r.Create(ctx, shSpec("shim", []string{layer}, "echo started; while :; do sleep 0.1; done")); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "shim"); err != nil {
		t.Fatal(err)
	}
	rec, err := r.readState("shim")
	if err != nil {
		t.Fatal(err)
	}
	// The supervisor is the shim's process, not this test binary's.
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(rec.SupervisorPid) + "/exe"); err != nil || exe != shim {
		t.Fatalf("supervisor %d runs %q (%v), want the shim %s", rec.SupervisorPid, exe, err, shim)
	}
	var out bytes.Buffer
	if code, err := r.Exec(ctx, "shim", ExecSpec{Command: []string{"echo", "exec-through-shim"}, Stdout: &out}); err != nil || code != 0 {
		t.Fatalf("exec: code %d, %v", code, err)
	}
	if !strings.Contains(out.String(), "exec-through-shim") {
		t.Fatalf("exec output %q", out.String())
	}
	if err := r.Stop(ctx, "shim", syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := r.Wait(ctx, "shim")
	if err != nil || st.Status != StatusExited {
		t.Fatalf("wait: %+v, %v", st, err)
	}
	if text := logText(t, st.LogPath); !strings.Contains(text, "started") {
		t.Fatalf("log %q lacks the workload's output", text)
	}
}

// A container whose supervisor runs an older program (here: the shim) is
// driven by a Runtime that starts containers from another (the test
// binary): after an upgrade the agent adopts what the old one started.
func TestContainerOfAnotherShimIsAdopted(t *testing.T) {
	shim := builtShim(t)
	old := newShimRuntime(t, shim)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)
	if _, err := old.Create(ctx, shSpec("old", []string{layer}, "trap 'exit 7' TERM; echo trapping; while :; do sleep 0.1; done")); err != nil {
		t.Fatal(err)
	}
	if err := old.Start(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, old, "old", "trapping") // PID 1 ignores a TERM it has no handler for
	self, _ := os.Executable()
	upgraded, err := New(Config{StateDir: old.cfg.StateDir, RunDir: old.cfg.RunDir, Cgroups: old.cfg.Cgroups, Binary: self})
	if err != nil {
		t.Fatal(err)
	}
	defer upgraded.Close()
	if st, err := upgraded.State("old"); err != nil || st.Status != StatusRunning {
		t.Fatalf("state after upgrade: %+v, %v", st, err)
	}
	var out bytes.Buffer
	if code, err := upgraded.Exec(ctx, "old", ExecSpec{Command: []string{"echo", "adopted"}, Stdout: &out}); err != nil || code != 0 || !strings.Contains(out.String(), "adopted") {
		t.Fatalf("exec after upgrade: code %d, %v, %q", code, err, out.String())
	}
	if err := upgraded.Stop(ctx, "old", syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := upgraded.Wait(ctx, "old")
	if err != nil || st.Status != StatusExited || st.ExitCode != 7 {
		t.Fatalf("exit after upgrade: %+v, %v", st, err)
	}
}

func TestCheckShimRefusesAnotherProtocol(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "skiff-shim")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho skiff-shim/0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckShim(fake); err == nil || !strings.Contains(err.Error(), "skiff-shim/0") {
		t.Fatalf("a shim of another protocol: %v", err)
	}
	if err := CheckShim(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing shim passed the check")
	}
}
