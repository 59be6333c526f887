package network

import (
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// selfNetNS names the process's own network namespace (that of the main
// thread, which no code here ever moves) when Config.HostNetNS is empty.
const selfNetNS = "/proc/self/ns/net"

// openNetNS opens a network namespace file and checks that it is one: a
// bind-mount target whose namespace is gone is a plain empty file.
func openNetNS(path string) (netns.NsHandle, error) {
	if path == "" {
		path = selfNetNS
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return netns.None(), fmt.Errorf("netns %s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC && st.Type != unix.PROC_SUPER_MAGIC {
		return netns.None(), fmt.Errorf("netns %s: not a namespace file: %w", path, os.ErrNotExist)
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("netns %s: %w", path, err)
	}
	return h, nil
}

// handleAt returns a rtnetlink handle whose socket lives in the namespace
// at path; requests through it act there without moving any thread.
func handleAt(path string) (*netlink.Handle, error) {
	ns, err := openNetNS(path)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	return h, nil
}

// inNetNS runs fn on an OS thread moved into the namespace at path, for
// the few things netlink cannot reach from outside (/proc/sys/net is the
// namespace of the thread that opens it). The thread is never handed back
// to the scheduler if moving it home fails: the goroutine exits locked and
// Go kills the thread, so no other goroutine ever runs in the wrong netns.
func inNetNS(path string, fn func() error) error {
	target, err := openNetNS(path)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current netns: %w", err)
			return
		}
		defer home.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(home); err != nil {
			errc <- fmt.Errorf("leave netns %s: %w", path, err) // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// writeSysctl writes a value under /proc/sys in the calling thread's
// network namespace.
func writeSysctl(name, value string) error {
	path := "/proc/sys/" + name
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s: %w", path, err)
	}
	return nil
}
