package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// pinNamespace makes a new namespace of kind (CLONE_NEWNET or
// CLONE_NEWUTS) and keeps it alive with a bind mount at path; a UTS
// namespace gets hostname. An existing pin is kept (Start after Stop). The
// thread that made it is never handed back: it ends with its goroutine, so
// no Go thread stays in the new namespace.
func pinNamespace(path string, kind int, hostname string) error {
	if isNamespace(path) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pin namespace: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("pin namespace: %w", err)
	}
	f.Close()
	nsFile := map[int]string{unix.CLONE_NEWNET: "net", unix.CLONE_NEWUTS: "uts"}[kind]
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := unix.Unshare(kind); err != nil {
			errc <- fmt.Errorf("unshare %s: %w", nsFile, err)
			return
		}
		if hostname != "" {
			if err := unix.Sethostname([]byte(hostname)); err != nil {
				errc <- fmt.Errorf("sethostname: %w", err)
				return
			}
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/%s", unix.Gettid(), nsFile)
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind %s to %s: %w", src, path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return fmt.Errorf("pin namespace %s: %w", path, err)
	}
	return nil
}

// unpinNamespace lets the kernel destroy the namespace at path once nothing
// else uses it (a network namespace takes its links with it).
func unpinNamespace(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// isNamespace tells whether path is a pinned namespace (not just the empty
// file a pin leaves when its mount is gone).
func isNamespace(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// startIn starts cmd inside the network and UTS namespaces pinned at netns
// and uts, from a thread moved there; the child inherits the thread's
// namespaces (docs/ARCHITECTURE.md, "Rules"). That thread is never reused.
func startIn(netns, uts string, cmd *exec.Cmd) error {
	var fds []*os.File
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	type join struct {
		f    *os.File
		kind int
	}
	var joins []join
	for path, kind := range map[string]int{netns: unix.CLONE_NEWNET, uts: unix.CLONE_NEWUTS} {
		if path == "" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("namespace %s: %w", path, err)
		}
		fds = append(fds, f)
		joins = append(joins, join{f, kind})
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		for _, j := range joins {
			if err := unix.Setns(int(j.f.Fd()), j.kind); err != nil {
				errc <- fmt.Errorf("setns %s: %w", j.f.Name(), err)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}
