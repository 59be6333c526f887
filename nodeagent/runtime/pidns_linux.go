package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

// A sandbox made with SharePID holds a PID namespace whose PID 1 is a
// pause process, as a Kubernetes pod with shareProcessNamespace does: its
// containers' inits are forked into that namespace instead of one of their
// own, so they see and may signal each other, and orphans are reaped by
// the pause.
const (
	pidNSFile = "pid"
	pauseRoot = "pause-root" // the pause's empty root directory
	pauseUID  = 65535        // the uid Kubernetes' pause image runs as
	// pauseCgroup holds the pause, below the pod cgroup.
	pauseCgroup = "pause"
)

// destroyPause kills a sandbox's pause process, if it has one, and
// removes its cgroup; its PID namespace dies with it.
func (r *Runtime) destroyPause(id string) error {
	cg, err := r.cgroup(filepath.Join(podCgroupPath(id), pauseCgroup))
	if err != nil {
		return nil
	}
	return cg.Destroy()
}

// startPause starts the sandbox's pause process as PID 1 of a new PID
// namespace, moves it into the pod cgroup and pins the namespace.
func (r *Runtime) startPause(dir, podCgroup string) error {
	// A cgroup of its own below the pod's: with cgroup v2 a cgroup whose
	// children have controllers may hold no process itself.
	cg, err := r.cgroup(filepath.Join(podCgroup, pauseCgroup))
	if err != nil {
		return err
	}
	if err := cg.Create(cgroups.Resources{}); err != nil {
		return err
	}
	root := filepath.Join(dir, pauseRoot)
	if err := os.Mkdir(root, 0o555); err != nil {
		return fmt.Errorf("runtime: create pause root: %w", err)
	}
	// Started in its root, so its command line shows no host path to the
	// containers that see it.
	cmd := exec.Command(r.cfg.Binary, pauseArg, "-")
	cmd.Dir = root
	cmd.Env = shimEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: unix.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("runtime: start pause: %w", err)
	}
	pid := cmd.Process.Pid
	// Our child until we exit: reap it when it ends (RemoveSandbox kills it
	// with the pod cgroup).
	go cmd.Wait()
	fail := func(err error) error {
		cmd.Process.Kill()
		return err
	}
	if err := cg.Apply(pid); err != nil {
		return fail(err)
	}
	pin := filepath.Join(dir, pidNSFile)
	f, err := os.Create(pin)
	if err != nil {
		return fail(fmt.Errorf("runtime: create ns file: %w", err))
	}
	f.Close()
	src := filepath.Join("/proc", strconv.Itoa(pid), "ns", "pid")
	if err := unix.Mount(src, pin, "", unix.MS_BIND, ""); err != nil {
		return fail(fmt.Errorf("runtime: pin pid namespace: %w", err))
	}
	return nil
}

// sharedPIDNS returns the pinned PID namespace of a sandbox that shares
// one, or "" when its containers get namespaces of their own.
func (r *Runtime) sharedPIDNS(id string) string {
	p := filepath.Join(r.sandboxDir(id), pidNSFile)
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		return ""
	}
	return p
}

// runPause is the pause process: PID 1 of a pod's shared PID namespace.
// It gives up every privilege, since the pod's containers see it, and
// reaps the orphans the kernel hands it until it is killed.
func runPause() int {
	children := make(chan os.Signal, 1)
	signal.Notify(children, unix.SIGCHLD)
	// Unlike Kubernetes' pause, which ends on SIGINT or SIGTERM, ignore
	// them: the kernel then drops them (and SIGKILL) when they come from
	// inside the namespace, so no container can end its pod's namespace.
	// Only the node ends it, by killing the pause cgroup.
	signal.Ignore(unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	if err := dropToPause(); err != nil {
		fmt.Fprintf(os.Stderr, "pause: %v\n", err)
		return 1
	}
	for {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
		}
		<-children
	}
}

// dropToPause confines the pause to its empty working directory as root
// directory, as an unprivileged user that no one may ptrace or peek at
// through /proc.
func dropToPause() error {
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	// syscall's (not x/sys's) change every thread of the Go runtime.
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(pauseUID, pauseUID, pauseUID); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := syscall.Setresuid(pauseUID, pauseUID, pauseUID); err != nil {
		return fmt.Errorf("setresuid: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("dumpable: %w", err)
	}
	return nil
}

// forkSharedInit forks an init into the PID namespace at pidns (a pod's
// shared one). The calling goroutine must be
// locked to its thread: the thread's PID namespace for children changes.
func forkSharedInit(pidns string, sio *containerStdio) (*initProc, error) {
	if err := joinNamespaces(map[int]string{unix.CLONE_NEWPID: pidns}); err != nil {
		return nil, err
	}
	in, err := forkInit(0, sio)
	if errors.Is(err, unix.ENOMEM) {
		return nil, fmt.Errorf("runtime: the pod's pause process is gone: %w", err)
	}
	return in, err
}
