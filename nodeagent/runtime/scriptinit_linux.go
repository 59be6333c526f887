package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/runtime/initprog"
)

// Descriptors a script init is started with beyond initprog's.
const (
	scriptOldRootFd = initprog.BlobFd + 1 // the old root, detached after pivot_root
	scriptProcFd    = initprog.BlobFd + 2 // the rootfs's /proc mount point
	scriptProgFd    = initprog.BlobFd + 3 // the program itself
	scriptJoinFd    = initprog.BlobFd + 4 // the first of the cgroup's JoinFiles, if any
)

// goInitEnv, set in a supervisor's environment, makes it start containers
// with the Go init even where the script init runs (Config.GoInit).
const goInitEnv = "SKIFF_GO_INIT"

// errGoInit says the Go init was asked for (Config.GoInit).
var errGoInit = errors.New("the Go init was asked for")

// initProgram returns an anonymous executable file holding the init
// program, or an error saying why containers start from the Go init: an
// architecture it is not written for, Config.GoInit (goInitEnv in a
// supervisor's environment, goInit for Exec), or a kernel that refuses to
// run anonymous files (vm.memfd_noexec=2).
func initProgram(goInit bool) (*os.File, error) {
	prog := initprog.Program()
	switch {
	case goInit || os.Getenv(goInitEnv) != "":
		return nil, errGoInit
	case prog == nil:
		return nil, errors.New("no init program for this architecture")
	}
	return memfdWith("skiff-init", prog, unix.MFD_EXEC)
}

// startScriptInit sets container c up on a thread of its own — a private
// copy of our mount namespace, the pod's other namespaces, the root file
// system with its devices and volumes, the hostname — then forks the init
// program with the rest as its script: what needs the container's own PID
// namespace (/proc), pivot_root, masks, lockdown, and execve on Start.
// The thread's namespaces and root are the container's afterwards, so it
// is never given back: Go ends it with its goroutine.
func startScriptInit(c *containerConfig, prog *os.File, sio *containerStdio, join []*os.File) (*initProc, error) {
	type result struct {
		in  *initProc
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		in, err := setUpAndForkScriptInit(c, prog, sio, join)
		done <- result{in, err}
	}()
	r := <-done
	return r.in, r.err
}

func setUpAndForkScriptInit(c *containerConfig, prog *os.File, sio *containerStdio, join []*os.File) (*initProc, error) {
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("runtime: unshare mount namespace: %w", err)
	}
	if err := enterSandboxNamespaces(c); err != nil {
		return nil, err
	}
	cloneflags := uintptr(unix.CLONE_NEWPID)
	if c.PIDNS != "" {
		// The init is born in the pod's PID namespace.
		if err := joinNamespaces(map[int]string{unix.CLONE_NEWPID: c.PIDNS}); err != nil {
			return nil, err
		}
		cloneflags = 0
	}
	var procDir *os.File
	err := setupRootfs(c, func(root int) error {
		fd, err := mkdirInRoot(root, "/proc", false)
		procDir = os.NewFile(uintptr(fd), "proc")
		return err
	})
	if procDir != nil {
		defer procDir.Close()
	}
	if err != nil {
		return nil, err
	}
	if c.UTSNS == "" {
		if err := unix.Sethostname([]byte(hostname(c))); err != nil {
			return nil, fmt.Errorf("runtime: sethostname: %w", err)
		}
	}
	rootfs := filepath.Join(c.Dir, rootfsDir)
	env := withDefaultEnv(c.Spec.Env)
	path, err := lookPathInRootfs(rootfs, c.Spec.Command[0], env)
	if err != nil {
		return nil, err
	}
	oldRoot, err := os.Open("/")
	if err != nil {
		return nil, fmt.Errorf("runtime: open old root: %w", err)
	}
	defer oldRoot.Close()
	// The init starts in the rootfs, which it pivots to.
	if err := unix.Chdir(rootfs); err != nil {
		return nil, fmt.Errorf("runtime: chdir rootfs: %w", err)
	}
	script, err := containerScript(c, path, env, len(join))
	if err != nil {
		return nil, err
	}
	blob, err := memfdWith("skiff-init-script", script.Blob(), 0)
	if err != nil {
		return nil, err
	}
	defer blob.Close()
	in, err := startInit(fdPath(scriptProgFd), []string{"init"}, append([]*os.File{blob, oldRoot, procDir, prog}, join...), cloneflags, sio)
	if err != nil {
		return nil, err
	}
	in.script, in.joinsCgroup = script, len(join) > 0
	return in, nil
}

// hostname is the name of a container with a UTS namespace of its own.
func hostname(c *containerConfig) string {
	if c.Spec.Hostname != "" {
		return c.Spec.Hostname
	}
	return c.Spec.ID
}

// lookPathInRootfs finds the container's command below rootfs.
func lookPathInRootfs(rootfs, name string, env []string) (string, error) {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("runtime: open rootfs: %w", err)
	}
	defer unix.Close(root)
	return lookPathIn(root, name, env)
}

// containerScript is what the init program does, in the Go init's order
// from the cgroup move on.
func containerScript(c *containerConfig, path string, env []string, joinFiles int) (*initprog.Script, error) {
	s := &initprog.Script{}
	str := s.String
	scratch := s.Bytes(make([]byte, 8))
	cgroupScript(s, joinFiles, scratch)
	// After the cgroup move, so the container sees its cgroup as "/".
	s.Call("runtime: unshare cgroup ns", unix.SYS_UNSHARE, unix.CLONE_NEWCGROUP)
	s.Call("runtime: mount proc on /proc", unix.SYS_MOUNT, str("proc"), str(fdPath(scriptProcFd)), str("proc"), procFlags)
	s.Call("runtime: pivot_root", unix.SYS_PIVOT_ROOT, str("."), str("."))
	// As pivotRoot: the old root is stacked on the new one; detach it.
	s.Call("runtime: chdir old root", unix.SYS_FCHDIR, scriptOldRootFd)
	s.Call("runtime: make old root rslave", unix.SYS_MOUNT, str(""), str("."), str(""), unix.MS_SLAVE|unix.MS_REC)
	s.Call("runtime: detach old root", unix.SYS_UMOUNT2, str("."), unix.MNT_DETACH)
	s.Call("runtime: chdir /", unix.SYS_CHDIR, str("/"))
	s.Call("runtime: close old root", unix.SYS_CLOSE, scriptOldRootFd)
	if !c.Spec.Security.Privileged {
		maskScript(s)
	}
	if c.Spec.Security.ReadOnlyRootFS {
		s.Call("runtime: remount / read-only", unix.SYS_MOUNT, str(""), str("/"), str(""), unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY)
	}
	err := lockdownScript(s, c.Spec.Security, c.DevicesLocked, c.Seccomp, c.Spec.WorkingDir)
	if err != nil {
		return nil, err
	}
	s.Ready()
	s.Call("runtime: wait for start", unix.SYS_READ, initprog.SyncFd, scratch, 1).WantResult(1)
	execScript(s, path, c.Spec.Command, env)
	return s, nil
}

// cgroupScript appends the process's move into the container's cgroup:
// through the joinFiles cgroups.Manager.JoinFiles opened, from
// scriptJoinFd on, or, without them, the wait until its parent has moved
// it (Apply) and says so on SyncFd.
func cgroupScript(s *initprog.Script, joinFiles int, scratch uint64) {
	if joinFiles == 0 {
		s.Call("runtime: wait for the cgroup", unix.SYS_READ, initprog.SyncFd, scratch, 1).WantResult(1)
		return
	}
	self := s.Bytes([]byte("0"))
	for i := range uint64(joinFiles) {
		s.Call("runtime: move into the cgroup", unix.SYS_WRITE, scriptJoinFd+i, self, 1).WantResult(1)
		s.Call("runtime: close a cgroup file", unix.SYS_CLOSE, scriptJoinFd+i)
	}
}

// lockdownScript appends the lockdown of sc, with the seccomp filter the
// runtime built for it, and the change into the working directory as the
// container's user: lockdownAndChdir's work.
func lockdownScript(s *initprog.Script, sc SecurityContext, devicesLocked bool, filter *seccompFilter, wd string) error {
	l, err := planLockdown(sc, devicesLocked, filter.lookup)
	if err != nil {
		return err
	}
	have, err := permittedCaps()
	if err != nil {
		return err
	}
	l.script(s, have)
	if wd == "" {
		wd = "/"
	}
	s.Call("runtime: chdir "+wd, unix.SYS_CHDIR, s.String(wd))
	return nil
}

// execScript appends the last steps: default signals, no descriptor of
// ours left open, and execve.
func execScript(s *initprog.Script, path string, argv, env []string) {
	resetSignalsScript(s)
	s.Call("runtime: close fds", unix.SYS_CLOSE_RANGE, 3, ^uint64(0)>>32, unix.CLOSE_RANGE_CLOEXEC)
	s.Call("runtime: exec "+path, unix.SYS_EXECVE, s.String(path), s.Strings(argv), s.Strings(env))
}

// maskScript hides maskedPaths and makes readonlyPaths read-only, as
// maskPath and readonlyPath do; the init cannot try one way and then
// another, so a path is masked as a directory when the host's is one
// (the container's /proc and /sys are the same kernel's).
func maskScript(s *initprog.Script) {
	str := s.String
	for _, p := range maskedPaths() {
		if st, err := os.Lstat(p); err == nil && st.IsDir() {
			s.Call("runtime: mask "+p, unix.SYS_MOUNT, str("tmpfs"), str(p), str("tmpfs"), unix.MS_RDONLY, str("size=0")).
				TolerateErrno(unix.ENOENT)
			continue
		}
		s.Call("runtime: mask "+p, unix.SYS_MOUNT, str("/dev/null"), str(p), str(""), unix.MS_BIND).TolerateErrno(unix.ENOENT)
	}
	ro := binary.LittleEndian.AppendUint64(nil, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	attr := s.Bytes(append(ro, make([]byte, 24)...)) // struct mount_attr: set, clear, propagation, userns fd
	for _, p := range readonlyPaths() {
		s.Call("runtime: bind "+p, unix.SYS_MOUNT, str(p), str(p), str(""), unix.MS_BIND|unix.MS_REC).TolerateErrno(unix.ENOENT)
		s.Call("runtime: make "+p+" read-only", unix.SYS_MOUNT_SETATTR, unix.AT_FDCWD&0xffffffff, str(p), unix.AT_RECURSIVE, attr, 32).
			TolerateErrno(unix.ENOENT)
	}
}

// resetSignalsScript gives the workload every signal's default action
// and none blocked, as runc and crun do. execve itself resets the signals
// this process handles; the ones it ignores (the supervisor ignores
// SIGHUP, SIGINT, SIGTERM and SIGPIPE) would stay ignored.
func resetSignalsScript(s *initprog.Script) {
	dfl := s.Bytes(make([]byte, 32)) // struct sigaction: SIG_DFL, no flags, restorer or mask
	for sig := 1; sig <= 64; sig++ {
		var act [4]uint64
		_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&act)), 8, 0, 0)
		if errno == 0 && act[0] == sigIgn {
			s.Call(fmt.Sprintf("runtime: reset signal %d", sig), unix.SYS_RT_SIGACTION, uint64(sig), dfl, 0, 8)
		}
	}
	s.Call("runtime: unblock signals", unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, s.Bytes(make([]byte, 8)), 0, 8)
}

// sigIgn is SIG_IGN, a struct sigaction's handler for an ignored signal.
const sigIgn = 1

// memfdWith returns an anonymous file holding content.
func memfdWith(name string, content []byte, flags int) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|flags)
	if err == unix.EINVAL && flags&unix.MFD_EXEC != 0 {
		// Kernels before 6.3 know no MFD_EXEC; their memfds may be run.
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|flags&^unix.MFD_EXEC)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, fmt.Errorf("runtime: write %s: %w", name, err)
	}
	return f, nil
}

// readReport reads the script init's next report: nil when it is ready,
// io.EOF when it closed its end (it exec'd, or died), else the step that
// failed.
func readReport(in *initProc) error {
	var rec [8]byte
	if _, err := io.ReadFull(in.msg, rec[:]); err != nil {
		return io.EOF
	}
	return in.script.Report(rec[:])
}
