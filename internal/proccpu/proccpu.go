// Package proccpu reads processes' CPU time from /proc/PID/stat and turns
// two readings into a share of one core. The idle-CPU budget tests use it
// on the host (e2e) and inside a cgroup v2 guest (e2e/vm), so both apply
// the same arithmetic to the same counters.
package proccpu

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of /proc/PID/stat's times; Linux fixes
// it at 100 for user space.
const ClockTicks = 100

// Ticks is the process's CPU time so far, its threads' and its reaped
// children's (short-lived helpers, such as exec probes) included.
func Ticks(pid int) (int64, error) {
	f, err := StatFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state): utime, stime, cutime, cstime are 14–17.
	var sum int64
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		sum += n
	}
	return sum, nil
}

// StatFields are the fields of /proc/PID/stat after the command name,
// which is in parentheses and may hold spaces: f[0] is field 3 (state).
func StatFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(data[i+1:])), nil
}

// ParentPID is field 4 of /proc/PID/stat, or 0 when the process is gone.
func ParentPID(pid int) int {
	f, err := StatFields(pid)
	if err != nil || len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// Percent is the share of one core (in percent) that ticks of CPU time
// over elapsed make.
func Percent(ticks int64, elapsed time.Duration) float64 {
	return 100 * float64(ticks) / ClockTicks / elapsed.Seconds()
}

// Children are the processes whose parent is in parents and whose
// command line starts with args (argv[0], argv[1]…): a daemon's own
// children of one kind, not those of others running the same binary.
func Children(parents map[int]bool, args ...string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue // gone since the listing
		}
		if hasPrefix(strings.Split(string(cmdline), "\x00"), args) && parents[ParentPID(pid)] {
			out = append(out, pid)
		}
	}
	return out, nil
}

func hasPrefix(list, prefix []string) bool {
	if len(list) < len(prefix) {
		return false
	}
	for i, p := range prefix {
		if list[i] != p {
			return false
		}
	}
	return true
}
