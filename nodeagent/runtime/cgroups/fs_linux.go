package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/backoff"
)

// writeFile writes one value to a cgroup control file. O_CREATE only
// matters for the fake trees unit tests use; cgroupfs files always exist.
func writeFile(dir, name, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cgroups: open %s: %w", name, err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cgroups: write %q to %s: %w", value, filepath.Join(dir, name), err)
	}
	return nil
}

func readFile(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("cgroups: read %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func readUint(dir, name string) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroups: parse %s: %w", name, err)
	}
	return v, nil
}

// readKey reads "key value" lines (memory.stat, memory.events, cpu.stat,
// memory.oom_control) and returns the value of key; 0 if absent.
func readKey(dir, name, key string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("cgroups: read %s: %w", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cgroups: parse %s %s: %w", name, key, err)
		}
		return n, nil
	}
	return 0, nil
}

// readPids returns the processes of dir and every cgroup below it.
func readPids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cgroups: list procs of %s: %w", dir, err)
	}
	return pids, nil
}

func killPids(pids []int) {
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// removeTree removes dir and the cgroups below it, deepest first. cgroupfs
// directories hold only control files, which rmdir takes with them; a
// cgroup whose last task is still exiting answers EBUSY for a moment.
func removeTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cgroups: walk %s: %w", dir, err)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if err := rmdir(d); err != nil {
			return err
		}
	}
	return nil
}

func rmdir(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for try := 0; ; try++ {
		err := syscall.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, syscall.ENOENT):
			return nil
		case errors.Is(err, syscall.ENOTEMPTY) && isFakeDir(dir):
			// A unit test's fake tree holds regular files.
			return os.RemoveAll(dir)
		case errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline):
			if pids, _ := readPids(dir); len(pids) > 0 {
				killPids(pids)
			}
			time.Sleep(backoff.Exponential(100*time.Microsecond, 20*time.Millisecond, try))
		default:
			return fmt.Errorf("cgroups: remove %s: %w", dir, err)
		}
	}
}

// isFakeDir reports whether dir is on an ordinary file system rather than
// cgroupfs, where rmdir of a directory with control files would succeed.
func isFakeDir(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	const cgroupMagic, cgroup2Magic = 0x27e0eb, 0x63677270
	return st.Type != cgroupMagic && st.Type != cgroup2Magic
}

// waitFor polls cond until it is true or the timeout passes.
func waitFor(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for try := 0; ; try++ {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("cgroups: timed out")
		}
		time.Sleep(backoff.Exponential(50*time.Microsecond, 10*time.Millisecond, try))
	}
}
