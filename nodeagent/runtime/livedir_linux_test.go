package runtime

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/proccpu"
)

// A supervisor's files live under RunDir, the rest under StateDir; a
// reboot (RunDir emptied, every process gone) leaves what a container was
// and how it ended.
func TestLiveStateIsUnderTheRunDirectory(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)

	if _, err := r.Create(ctx, shSpec("running", []string{layer}, "while :; do sleep 0.1; done")); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "running"); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(r.cfg.RunDir, "containers", "running")
	for _, f := range []string{stateFile, startFifo, supervisorLog} {
		if _, err := os.Stat(filepath.Join(live, f)); err != nil {
			t.Errorf("live file: %v", err)
		}
		if _, err := os.Stat(filepath.Join(r.containerDir("running"), f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s in the state directory: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.containerDir("running"), configFile)); err != nil {
		t.Errorf("config: %v", err)
	}

	exited, _ := run(t, r, shSpec("exited", []string{layer}, "exit 3"))
	if exited.Status != StatusExited || exited.ExitCode != 3 || exited.StartedAt.IsZero() {
		t.Fatalf("before the reboot: %+v", exited)
	}

	// The reboot: every process of the container gone, and RunDir with it.
	rec, err := r.readState("running")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(rec.SupervisorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := r.kill("running", rec); err != nil {
		t.Fatal(err)
	}
	waitGone(t, rec)
	if err := os.RemoveAll(filepath.Join(r.cfg.RunDir, "containers")); err != nil {
		t.Fatal(err)
	}

	st, err := r.State("running")
	if err != nil || st.Status != StatusUnknown {
		t.Errorf("a container running at the reboot: %+v, %v; want unknown", st, err)
	}
	if st, err := r.Wait(ctx, "running"); err != nil || st.Status != StatusUnknown {
		t.Errorf("wait: %+v, %v", st, err)
	}
	if err := r.Stop(ctx, "running", syscall.SIGTERM, time.Second); err != nil {
		t.Errorf("stop: %v; want nothing to stop", err)
	}
	if err := r.Signal("running", syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Errorf("signal: %v; want ErrNotRunning", err)
	}
	st, err = r.State("exited")
	if err != nil || st.Status != StatusExited || st.ExitCode != 3 || !st.StartedAt.Equal(exited.StartedAt) {
		t.Errorf("a container ended before the reboot: %+v, %v; want %+v", st, err, exited)
	}
	for _, id := range []string{"running", "exited"} {
		if err := r.Remove(ctx, id); err != nil {
			t.Fatalf("remove %s: %v", id, err)
		}
		if _, err := os.Stat(r.containerDir(id)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s's state directory left: %v", id, err)
		}
	}
}

// A container that an agent before live directories started keeps all its
// files in its state directory, where its supervisor goes on writing them:
// a new Runtime reads and controls it there.
func TestContainerOfAnOlderRuntimeKeepsItsFilesInItsStateDirectory(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)
	if _, err := r.Create(ctx, shSpec("old", []string{layer}, "trap 'exit 7' TERM; echo trapping; while :; do sleep 0.1; done")); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, "old", "trapping") // PID 1 ignores a TERM it has no handler for
	// Make it look like an older supervisor's: the state file in the
	// state directory, a config without RunDir, no live directory. The
	// running supervisor writes only exit.json from now on, into the
	// state directory as an older one does.
	dir := r.containerDir("old")
	live := filepath.Join(r.cfg.RunDir, "containers", "old")
	if err := os.Rename(filepath.Join(live, stateFile), filepath.Join(dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	var c containerConfig
	if err := readJSON(dir, configFile, &c); err != nil {
		t.Fatal(err)
	}
	c.RunDir = ""
	if err := writeJSON(dir, configFile, c); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(live); err != nil {
		t.Fatal(err)
	}

	r2, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	sts, err := r2.List()
	if err != nil || len(sts) != 1 || sts[0].Status != StatusRunning || sts[0].Pid == 0 || sts[0].StartedAt.IsZero() {
		t.Fatalf("list: %+v, %v", sts, err)
	}
	if err := r2.Stop(ctx, "old", syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := r2.State("old")
	if err != nil || st.Status != StatusExited || st.ExitCode != 7 || !st.StartedAt.Equal(sts[0].StartedAt) {
		t.Fatalf("after stop: %+v, %v", st, err)
	}
	if err := r2.Remove(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state directory left: %v", err)
	}
}

// waitGone waits until the supervisor and the container of rec have ended.
func waitGone(t *testing.T, rec stateRecord) {
	t.Helper()
	for _, p := range [][2]uint64{{uint64(rec.SupervisorPid), rec.SupervisorStart}, {uint64(rec.Pid), rec.PidStart}} {
		fd, err := openProcess(int(p[0]), p[1])
		if err != nil {
			t.Fatal(err)
		}
		if fd < 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), scaled(10*time.Second))
		err = waitPidfd(ctx, fd)
		cancel()
		syscall.Close(fd)
		if err != nil {
			t.Fatalf("process %d still runs: %v", p[0], err)
		}
	}
}

// A Create that fails after its supervisor was taken (here: for a sandbox
// that does not exist) leaves neither the supervisor nor a directory, and
// a second Create of one ID is refused without touching the first.
func TestFailedCreateLeavesNoSupervisor(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	ctx := bgCtx(t)
	supervisors := func() int {
		pids, err := proccpu.Children(map[int]bool{os.Getpid(): true}, r.cfg.Binary, supervisorArg)
		if err != nil {
			t.Fatal(err)
		}
		return len(pids)
	}
	idle := supervisors() // the warm pool's, if any
	// No garbage collection meanwhile: a finalizer would close the job
	// pipe of a leaked supervisor, which would end it and hide the leak.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	spec := shSpec("orphan", []string{layer}, "true")
	spec.SandboxID = "nosuchpod"
	if _, err := r.Create(ctx, spec); err == nil {
		t.Fatal("a container in a sandbox that does not exist was created")
	}
	for deadline := time.Now().Add(scaled(10 * time.Second)); supervisors() != idle; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d supervisors after the failed create, %d before", supervisors(), idle)
		}
	}
	for _, d := range []string{r.containerDir("orphan"), filepath.Join(r.cfg.RunDir, "containers", "orphan")} {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left: %v", d, err)
		}
	}

	if _, err := r.Create(ctx, shSpec("twice", []string{layer}, "sleep 100")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(ctx, shSpec("twice", []string{layer}, "true")); !errors.Is(err, ErrExists) {
		t.Fatalf("a second create of one ID: %v, want ErrExists", err)
	}
	if st, err := r.State("twice"); err != nil || st.Status != StatusCreated {
		t.Fatalf("the first after the second create: %+v, %v", st, err)
	}
}
