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

// waitPidfd blocks until the process behind fd exits or ctx ends.
func waitPidfd(ctx context.Context, fd int) error {
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
