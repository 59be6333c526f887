package teardown

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// KillInNetNS sends SIGKILL to every process (but this one) whose network
// namespace is one of those pinned at paths, and returns their PIDs. Only
// for namespaces the caller owns whole, such as a local cluster's nodes.
func KillInNetNS(paths ...string) []int {
	var inodes []uint64
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			inodes = append(inodes, st.Ino)
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	var killed []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue
		}
		for _, ino := range inodes {
			if st.Ino == ino {
				syscall.Kill(pid, syscall.SIGKILL)
				killed = append(killed, pid)
			}
		}
	}
	return killed
}

// UnmountUnder detaches every mount whose mount point is one of dirs or
// under one (container root file systems, pinned pod namespaces, volumes),
// deepest first, and returns the mount points it detached.
func UnmountUnder(dirs ...string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		for _, d := range dirs {
			if d != "" && (mp == d || strings.HasPrefix(mp, d+"/")) {
				points = append(points, mp)
				break
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var done []string
	var errs []error
	for _, p := range points {
		err := unix.Unmount(p, unix.MNT_DETACH)
		switch {
		case err == nil:
			done = append(done, p)
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT):
			// Gone with a parent detached before it.
		default:
			errs = append(errs, fmt.Errorf("teardown: unmount %s: %w", p, err))
		}
	}
	return done, errors.Join(errs...)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Running says whether the process exists and is not a zombie (exited,
// waiting for its parent to reap it).
func Running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
