package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// With a shared PID namespace one container sees another's processes,
// PID 1 is the pod's pause process, and a signal from one container
// reaches the other's process.
func TestSharedPIDNamespace(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)
	sb, err := r.CreateSandbox(SandboxSpec{ID: "shared", SharePID: true})
	if err != nil {
		t.Fatal(err)
	}
	if sb.PIDNS == "" {
		t.Fatal("sandbox made with SharePID has no PID namespace path")
	}
	sleeper := shSpec("sleeper", []string{layer}, "exec sleep 3600")
	sleeper.SandboxID = "shared"
	if _, err := r.Create(ctx, sleeper); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "sleeper"); err != nil {
		t.Fatal(err)
	}
	// Wait until the sleeper has exec'd, then look at it and signal it.
	watcher := shSpec("watcher", []string{layer}, `for i in $(seq 200); do pidof sleep >/dev/null && break; sleep 0.05; done
ps -o pid,args; echo "pid1=$(tr '\0' ' ' </proc/1/cmdline)"; echo "self=$$"
kill -TERM $(pidof sleep); kill -TERM 1; kill -KILL 1; true`)
	watcher.SandboxID = "shared"
	st, out := run(t, r, watcher)
	if st.ExitCode != 0 {
		t.Fatalf("watcher: %+v\n%s", st, out)
	}
	if !strings.Contains(out, "sleep 3600") {
		t.Errorf("watcher does not see the sleeper's process:\n%s", out)
	}
	if !strings.Contains(out, "pid1=") || !strings.Contains(out, pauseArg) {
		t.Errorf("PID 1 is not the pause process:\n%s", out)
	}
	if strings.Contains(out, "self=1\n") {
		t.Errorf("watcher is PID 1 of its own namespace:\n%s", out)
	}
	sst, err := r.Wait(ctx, "sleeper")
	if err != nil {
		t.Fatal(err)
	}
	if sst.Signal != int(unix.SIGTERM) {
		t.Errorf("sleeper ended %+v, want killed by the watcher's SIGTERM", sst)
	}
	// The watcher's signals to PID 1 did not end the namespace: another
	// container still starts in it.
	later := shSpec("later", []string{layer}, `echo "self=$$"`)
	later.SandboxID = "shared"
	if lst, lout := run(t, r, later); lst.ExitCode != 0 || !strings.Contains(lout, "self=") || strings.Contains(lout, "self=1\n") {
		t.Errorf("a container after the watcher's kill of PID 1: %+v\n%s", lst, lout)
	}
	pauseCg, err := r.cgroup(filepath.Join(sb.CgroupPath, pauseCgroup))
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pauseCg.Pids()
	if err != nil || len(pids) != 1 {
		t.Fatalf("pause cgroup holds %v (%v), want the pause alone", pids, err)
	}
	for _, id := range []string{"sleeper", "watcher", "later"} {
		if err := r.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RemoveSandbox("shared"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(pids[0], 0); err == nil {
		if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pids[0]), "cmdline")); strings.Contains(string(b), pauseArg) {
			t.Errorf("pause %d outlived its sandbox", pids[0])
		}
	}
}

// Without SharePID each container keeps a PID namespace of its own.
func TestPIDNamespaceNotSharedByDefault(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)
	sb, err := r.CreateSandbox(SandboxSpec{ID: "private"})
	if err != nil {
		t.Fatal(err)
	}
	if sb.PIDNS != "" {
		t.Fatalf("sandbox without SharePID has PID namespace %s", sb.PIDNS)
	}
	sleeper := shSpec("sleeper", []string{layer}, "exec sleep 3600")
	sleeper.SandboxID = "private"
	if _, err := r.Create(ctx, sleeper); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "sleeper"); err != nil {
		t.Fatal(err)
	}
	watcher := shSpec("watcher", []string{layer}, `sleep 0.5; ps -o pid,args; echo "self=$$"`)
	watcher.SandboxID = "private"
	st, out := run(t, r, watcher)
	if st.ExitCode != 0 {
		t.Fatalf("watcher: %+v\n%s", st, out)
	}
	if strings.Contains(out, "sleep 3600") || !strings.Contains(out, "self=1\n") {
		t.Errorf("watcher shares a PID namespace without SharePID:\n%s", out)
	}
}
