package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// procStartTime is field 22 of /proc/PID/stat: with the pid it names one
// process for good, across pid reuse.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields restart after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("runtime: malformed stat of %d", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("runtime: malformed stat of %d", pid)
	}
	return strconv.ParseUint(string(f[19]), 10, 64)
}

// openProcess returns a pidfd for pid if it is still the process that
// started at start, or -1 if that process is gone.
func openProcess(pid int, start uint64) (int, error) {
	if pid <= 0 {
		return -1, nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("runtime: pidfd_open %d: %w", pid, err)
	}
	// Checked after opening: the pidfd pins the process we compare.
	if st, err := procStartTime(pid); err != nil || st != start {
		unix.Close(fd)
		return -1, nil
	}
	return fd, nil
}

// waitPidfd blocks until the process behind fd exits or ctx ends. A
// pidfd turns readable when its process exits, so the wait sits in Go's
// poller and costs nothing while it lasts (the agent keeps one per running
// container); if the poller cannot take the fd, it polls instead.
func waitPidfd(ctx context.Context, fd int) error {
	err := waitPidfdPoller(ctx, fd)
	if !errors.Is(err, errNotPollable) {
		return err
	}
	for {
		timeout := 100
		if dl, ok := ctx.Deadline(); ok {
			timeout = min(timeout, max(0, int(time.Until(dl).Milliseconds())))
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("runtime: poll pidfd: %w", err)
		}
		if n > 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

var errNotPollable = errors.New("runtime: pidfd not pollable")

func waitPidfdPoller(ctx context.Context, fd int) error {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: dup pidfd: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return fmt.Errorf("runtime: pidfd: %w", err)
	}
	f := os.NewFile(uintptr(dup), "pidfd") // non-blocking: taken by the poller if it can
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return errNotPollable
	}
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		return errNotPollable // not in the poller
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	err = rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return err == nil && n > 0
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("runtime: wait for pidfd: %w", err)
	}
	return nil
}
