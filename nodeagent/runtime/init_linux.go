package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Descriptors the supervisor (or Exec) hands an init.
const (
	initSyncFd = 3 // read: 'c' once the process is in its cgroup, then 's' to exec
	initMsgFd  = 4 // write: "ready" or an error; closes on a successful execve
	initMntFd  = 5 // the supervisor's mount namespace
)

// Bytes on the sync pipe.
const (
	syncCgroup = 'c'
	syncStart  = 's'
)

// runInit is PID 1 of a new container, in fresh mount and PID namespaces
// and the sandbox's others. It builds the root file system, locks itself
// down, reports ready and execs the workload when told to start.
func runInit() int {
	goruntime.LockOSThread() // everything below is per thread
	msg := os.NewFile(initMsgFd, "msg")
	unix.CloseOnExec(initSyncFd)
	unix.CloseOnExec(initMsgFd)
	unix.CloseOnExec(initMntFd)
	fail := func(err error) int {
		fmt.Fprintf(msg, "error: %v\n", err)
		return 1
	}
	// Forked ahead of need, the init learns its container here.
	dir, err := readLine(initSyncFd)
	if err != nil {
		return 1 // the supervisor gave up on us
	}
	// The mount namespace we were forked with may predate the sandbox's
	// and volumes' mounts: take a fresh private copy of the supervisor's,
	// on this thread (a file system context of its own first).
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fail(fmt.Errorf("runtime: unshare fs: %w", err))
	}
	if err := unix.Setns(initMntFd, unix.CLONE_NEWNS); err != nil {
		return fail(fmt.Errorf("runtime: enter mount namespace: %w", err))
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fail(fmt.Errorf("runtime: unshare mount namespace: %w", err))
	}
	unix.Close(initMntFd)
	c, err := readConfig(dir)
	if err != nil {
		return fail(err)
	}
	// net, IPC and UTS are per thread: this one mounts sysfs and mqueue
	// and execs the workload.
	if err := enterSandboxNamespaces(&c); err != nil {
		return fail(err)
	}
	if err := waitSync(syncCgroup); err != nil {
		return fail(err)
	}
	// After the cgroup move, so the container sees its cgroup as "/".
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fail(fmt.Errorf("runtime: unshare cgroup ns: %w", err))
	}
	if err := setupRootfs(&c, mountProc); err != nil {
		return fail(err)
	}
	if err := pivotRoot(filepath.Join(c.Dir, rootfsDir)); err != nil {
		return fail(err)
	}
	if err := finishRootfs(&c); err != nil {
		return fail(err)
	}
	if c.UTSNS == "" {
		// A UTS namespace of its own: named after the container by default.
		if err := unix.Sethostname([]byte(hostname(&c))); err != nil {
			return fail(fmt.Errorf("runtime: sethostname: %w", err))
		}
	}
	env := withDefaultEnv(c.Spec.Env)
	path, err := lookPath(c.Spec.Command[0], env)
	if err != nil {
		return fail(err)
	}
	if err := lockdownAndChdir(&c.Spec.Security, c.Spec.WorkingDir, c.DevicesLocked, c.Seccomp); err != nil {
		return fail(err)
	}
	fmt.Fprintf(msg, "ready\n")
	if err := waitSync(syncStart); err != nil {
		return fail(err)
	}
	// Nothing of ours may leak into the workload (runc does the same).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail(fmt.Errorf("runtime: close fds: %w", err))
	}
	resetSignals()
	err = unix.Exec(path, c.Spec.Command, env)
	return fail(fmt.Errorf("runtime: exec %s: %w", path, err))
}

// lockdownAndChdir applies the security context to this thread, with the
// seccomp filter the runtime built for it, and enters the working
// directory as the container's user.
func lockdownAndChdir(sc *SecurityContext, wd string, devicesLocked bool, filter *seccompFilter) error {
	l, err := planLockdown(*sc, devicesLocked, filter.lookup)
	if err != nil {
		return err
	}
	if err := l.apply(); err != nil {
		return err
	}
	if wd == "" {
		wd = "/"
	}
	if err := unix.Chdir(wd); err != nil {
		return fmt.Errorf("runtime: chdir %s: %w", wd, err)
	}
	return nil
}

// resetSignals gives every signal its default action, as execve does for
// those with handlers: SIGHUP and SIGINT, ignored by the supervisor, are
// left ignored by Go's runtime and would stay so in the workload. Right
// before execve: the Go runtime needs its handlers until then.
func resetSignals() {
	var dfl [4]uint64 // struct sigaction: SIG_DFL, no flags, restorer or mask
	for sig := 1; sig <= 64; sig++ {
		if sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
			unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
		}
	}
}

func waitSync(want byte) error {
	var b [1]byte
	for {
		n, err := unix.Read(initSyncFd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("runtime: sync read: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("runtime: parent went away")
		}
		if b[0] != want {
			return fmt.Errorf("runtime: sync: got %q, want %q", b[0], want)
		}
		return nil
	}
}
