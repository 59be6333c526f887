package runtime

import (
	"context"
	"errors"
	"os/exec"
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
