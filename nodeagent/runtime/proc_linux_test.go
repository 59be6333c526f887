package runtime

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func startSleep(t *testing.T, secs string) (*exec.Cmd, int) {
	t.Helper()
	cmd := exec.Command("sleep", secs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return cmd, fd
}

// The wait sits in Go's poller (no fallback to polling) and returns once
// the process has exited.
func TestWaitPidfdReturnsWhenTheProcessExits(t *testing.T) {
	cmd, fd := startSleep(t, "0.2")
	ctx, cancel := context.WithTimeout(context.Background(), scaled(time.Minute))
	defer cancel()
	if err := waitPidfdPoller(ctx, fd); err != nil {
		t.Fatal(err)
	}
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	if info.Signo == 0 {
		t.Fatal("waitPidfd returned while the process still runs")
	}
}

func TestWaitPidfdEndsWithItsContext(t *testing.T) {
	_, fd := startSleep(t, "100")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := waitPidfd(ctx, fd); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait after cancel: %v", err)
	}
}

// A supervisor found gone is reported with what it last wrote to its log:
// why it ended, where there is a why.
func TestSupervisorGoneSaysWhatItLogged(t *testing.T) {
	r := newTestRuntime(t)
	dir := r.newLiveDir("gone")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A PID that no longer runs this start time: the test process's own,
	// with a start time it never had.
	if err := writeJSON(dir, stateFile, stateRecord{Status: StatusCreated, SupervisorPid: os.Getpid(), SupervisorStart: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := r.supervisorAlive("gone")
	if err == nil || !strings.HasSuffix(err.Error(), "is gone, without a word") {
		t.Fatalf("with an empty log: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, supervisorLog), []byte("supervisor gone: cgroup: no space left\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = r.supervisorAlive("gone")
	if err == nil || !strings.Contains(err.Error(), "is gone, saying: supervisor gone: cgroup: no space left") {
		t.Fatalf("with a log: %v", err)
	}
}
