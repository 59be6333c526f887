package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Spare container directories.
//
// A container's state directory holds three directories the container
// never writes to: the overlay's work directory (the kernel recreates
// what it keeps inside at every mount) and the root file system's mount
// point (empty outside the container's mount namespace), beside the state
// directory itself. Making and removing them is most of what a container
// costs its node's file system: on ext4 without a journal each new inode
// is found by scanning past every inode freed in the last minutes, which
// a node starting and removing containers keeps plenty of (0.1–0.5 ms a
// directory on such a disk). Remove therefore empties a state directory
// but for those three and keeps it, up to maxSpares; Create renames one
// into place instead of making four directories. The upper directory,
// which the container writes, is removed and made afresh as before.
//
// Each Runtime keeps its spares in a directory of its own under
// StateDir/spare, named for its process: two Runtimes on one state
// directory (an agent and `skiff reset`, or a test's second one) never
// take or remove each other's. New removes what processes no longer
// running left (they may have stopped half way through emptying one);
// Close removes its own.
type spares struct {
	dir  string
	mu   sync.Mutex
	free []string // names under dir, each an emptied state directory
	next int      // for the next name
}

// maxSpares bounds the directories kept: a burst of removals beyond it
// removes the rest as before.
const maxSpares = 32

func (c Config) sparesDir() string { return filepath.Join(c.StateDir, "spare") }

// newSpares starts with none, in a new directory under root, and removes
// the directories there of processes that have ended.
func newSpares(root string) (*spares, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("runtime: create %s: %w", root, err)
	}
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			pid, _, _ := strings.Cut(e.Name(), "-")
			if n, err := strconv.Atoi(pid); err == nil && !processAlive(n) {
				os.RemoveAll(filepath.Join(root, e.Name())) // leftovers: best effort
			}
		}
	}
	dir, err := os.MkdirTemp(root, strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("runtime: create a spare directory: %w", err)
	}
	return &spares{dir: dir}, nil
}

// processAlive reports whether a process with that pid exists.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// take renames a spare to dir and reports whether it did; dir then holds
// workDir and rootfsDir, empty, and nothing else.
func (s *spares) take(dir string) bool {
	for {
		s.mu.Lock()
		n := len(s.free)
		if n == 0 {
			s.mu.Unlock()
			return false
		}
		name := s.free[n-1]
		s.free = s.free[:n-1]
		s.mu.Unlock()
		err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(s.dir, name), unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
		switch {
		case err == nil:
			return true
		case errors.Is(err, unix.EEXIST):
			// A container of that name exists: Create's mkdir says so.
			s.mu.Lock()
			s.free = append(s.free, name)
			s.mu.Unlock()
			return false
		}
		// Gone from under us, or renames unsupported: try the next.
	}
}

// keep empties a removed container's state directory dir and moves it to
// the spares. It reports false when it did not (the spares are full, or
// dir is not in the shape Create leaves it); the caller then removes dir
// as before.
func (s *spares) keep(dir string) bool {
	s.mu.Lock()
	full := len(s.free) >= maxSpares
	s.mu.Unlock()
	if full || !emptyForReuse(dir) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.free) >= maxSpares {
		return false
	}
	name := strconv.Itoa(s.next)
	if os.Rename(dir, filepath.Join(s.dir, name)) != nil {
		return false
	}
	s.next++
	s.free = append(s.free, name)
	return true
}

// emptyForReuse removes everything in dir but workDir and rootfsDir, and
// everything in those two. It reports whether dir is left so.
func emptyForReuse(dir string) bool {
	kept := map[string]bool{workDir: true, rootfsDir: true}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	found := 0
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if kept[e.Name()] && e.IsDir() {
			if !emptyDir(p) {
				return false
			}
			found++
			continue
		}
		if os.RemoveAll(p) != nil {
			return false
		}
	}
	return found == len(kept)
}

// emptyDir removes everything in dir, keeping dir.
func emptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if os.RemoveAll(filepath.Join(dir, e.Name())) != nil {
			return false
		}
	}
	return true
}

// close removes the spares.
func (s *spares) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = nil
	return os.RemoveAll(s.dir)
}
