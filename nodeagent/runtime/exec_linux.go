package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ExecSpec describes a process to run in a running container.
type ExecSpec struct {
	Command []string
	// Env and WorkingDir default to the container's.
	Env        []string
	WorkingDir string
	// RunAsUser and RunAsGroup override the container's user.
	RunAsUser, RunAsGroup *uint32
	// TTY gives the process a pseudo-terminal as stdin/stdout/stderr;
	// Stderr is unused then.
	TTY   bool
	Stdin io.Reader
	// Stdout and Stderr may be the same writer (as with os/exec, when
	// they compare equal only one goroutine at a time writes to it).
	Stdout io.Writer
	Stderr io.Writer
	// Size is the terminal's initial size and Resize its later changes
	// (TTY only).
	Size   WindowSize
	Resize <-chan WindowSize
}

// WindowSize is a terminal size.
type WindowSize struct{ Rows, Cols uint16 }

// execConfig is what the exec init reads.
type execConfig struct {
	Command       []string
	Env           []string
	WorkingDir    string
	Security      SecurityContext
	DevicesLocked bool
	Seccomp       *seccompFilter `json:",omitempty"`
}

// Descriptors the exec init gets beyond the sync and message pipes.
const (
	execMntFd    = 5
	execCgroupFd = 6
)

// Exec runs a process inside a running container: in all its namespaces
// and its cgroup, under the same lockdown. It returns the exit code.
func (r *Runtime) Exec(ctx context.Context, id string, spec ExecSpec) (int, error) {
	if len(spec.Command) == 0 {
		return -1, errors.New("runtime: exec: no command")
	}
	dir := r.containerDir(id)
	c, err := readConfig(dir)
	if err != nil {
		return -1, fmt.Errorf("runtime: exec %s: %w", id, ErrNotFound)
	}
	rec, err := r.readState(id)
	if err != nil || rec.Status != StatusRunning {
		return -1, fmt.Errorf("runtime: exec %s: %w", id, ErrNotRunning)
	}
	pidfd, err := openProcess(rec.Pid, rec.PidStart)
	if err != nil {
		return -1, err
	}
	if pidfd < 0 {
		return -1, fmt.Errorf("runtime: exec %s: %w", id, ErrNotRunning)
	}
	defer unix.Close(pidfd)
	ns, err := openNamespaces(rec.Pid, []string{"net", "ipc", "uts", "pid", "mnt", "cgroup"})
	if err != nil {
		return -1, err
	}
	defer closeAll(ns)
	// The pidfd pinned the process; the start time proves the /proc paths
	// we just opened were its own.
	if st, err := procStartTime(rec.Pid); err != nil || st != rec.PidStart {
		return -1, fmt.Errorf("runtime: exec %s: %w", id, ErrNotRunning)
	}

	sec := c.Spec.Security
	if spec.RunAsUser != nil {
		sec.RunAsUser = spec.RunAsUser
	}
	if spec.RunAsGroup != nil {
		sec.RunAsGroup = spec.RunAsGroup
	}
	if spec.Env == nil {
		spec.Env = c.Spec.Env
	}
	if spec.WorkingDir == "" {
		spec.WorkingDir = c.Spec.WorkingDir
	}
	filter, err := r.filterFor(sec, c.DevicesLocked)
	if err != nil {
		return -1, err
	}
	cfg := execConfig{Command: spec.Command, Env: spec.Env, WorkingDir: spec.WorkingDir,
		Security: sec, DevicesLocked: c.DevicesLocked, Seccomp: filter}
	cg, err := r.cgroup(c.CgroupPath)
	if err != nil {
		return -1, err
	}
	var init execInit
	if prog, perr := initProgram(r.cfg.GoInit); perr == nil {
		// The script moves itself into the cgroup where it can.
		var join []*os.File
		if join, err = cg.JoinFiles(); err != nil {
			prog.Close()
			return -1, err
		}
		init, err = newScriptExec(rec.Pid, cfg, ns, prog, join)
	} else {
		init, err = r.newGoExec(cfg, ns)
	}
	if err != nil {
		return -1, err
	}
	defer init.close()

	eio, err := newExecIO(spec)
	if err != nil {
		return -1, err
	}
	defer eio.close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("runtime: pipe: %w", err)
	}
	defer syncW.Close()
	msgR, msgW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		return -1, fmt.Errorf("runtime: pipe: %w", err)
	}
	defer msgR.Close()

	files := append(append(eio.childFiles(), syncR, msgW), init.files...)
	proc, err := forkInNamespaces(ns, init.exe, init.argv, files, spec.TTY)
	syncR.Close()
	msgW.Close()
	eio.closeChildEnds()
	if err != nil {
		return -1, err
	}
	if !init.joinsCgroup {
		err = cg.Apply(proc.Pid)
		if err == nil {
			_, err = syncW.Write([]byte{syncCgroup})
		}
	}
	if err == nil {
		// The message pipe closes when execve succeeds.
		b, _ := io.ReadAll(msgR)
		err = init.failure(b)
	}
	if err != nil {
		proc.Kill()
		proc.Wait()
		return -1, fmt.Errorf("runtime: exec %s: %w", id, err)
	}
	stop := context.AfterFunc(ctx, func() { proc.Kill() })
	defer stop()
	copying := eio.start()
	ps, err := proc.Wait()
	if err != nil {
		return -1, fmt.Errorf("runtime: exec wait: %w", err)
	}
	eio.finish(copying)
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), ctx.Err()
	}
	return ps.ExitCode(), ctx.Err()
}

// forkInNamespaces starts the exec init from a thread that joined the
// container's namespaces (PID included: it applies to children). The
// thread is tainted, so its goroutine ends locked and the thread with it.
func forkInNamespaces(ns map[string]*os.File, exe string, argv []string, files []*os.File, tty bool) (*os.Process, error) {
	type result struct {
		p   *os.Process
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: see above
		for _, n := range []struct {
			name string
			flag int
		}{{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}, {"pid", unix.CLONE_NEWPID}} {
			if err := unix.Setns(int(ns[n.name].Fd()), n.flag); err != nil {
				ch <- result{nil, fmt.Errorf("runtime: setns %s: %w", n.name, err)}
				return
			}
		}
		attr := &syscall.SysProcAttr{Setsid: true}
		if tty {
			attr.Setctty, attr.Ctty = true, 0
		}
		p, err := os.StartProcess(exe, argv, &os.ProcAttr{Files: files, Env: shimEnv(), Sys: attr})
		if err != nil {
			err = fmt.Errorf("runtime: start exec: %w", err)
		}
		ch <- result{p, err}
	}()
	res := <-ch
	return res.p, res.err
}

// openNamespaces opens /proc/PID/ns/<name> for each name. Files, not raw
// descriptors: a raw one wrapped in os.NewFile later would be closed twice.
func openNamespaces(pid int, names []string) (map[string]*os.File, error) {
	out := map[string]*os.File{}
	for _, n := range names {
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/" + n)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("runtime: open %s namespace: %w", n, err)
		}
		out[n] = f
	}
	return out, nil
}

func closeAll(files map[string]*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// runExecInit is the re-exec entry of an exec: it enters the container's
// mount and cgroup namespaces, locks itself down and execs the command.
func runExecInit(cfgPath string) int {
	goruntime.LockOSThread()
	msg := os.NewFile(initMsgFd, "msg")
	for _, fd := range []int{initSyncFd, initMsgFd, execMntFd, execCgroupFd} {
		unix.CloseOnExec(fd)
	}
	fail := func(err error) int {
		fmt.Fprintf(msg, "error: %v\n", err)
		return 126
	}
	var c execConfig
	if err := readJSON(filepath.Dir(cfgPath), filepath.Base(cfgPath), &c); err != nil {
		return fail(err)
	}
	if err := waitSync(syncCgroup); err != nil {
		return fail(err)
	}
	if err := unix.Setns(execCgroupFd, unix.CLONE_NEWCGROUP); err != nil {
		return fail(fmt.Errorf("runtime: setns cgroup: %w", err))
	}
	// setns(CLONE_NEWNS) wants a file system context of our own.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fail(fmt.Errorf("runtime: unshare fs: %w", err))
	}
	if err := unix.Setns(execMntFd, unix.CLONE_NEWNS); err != nil {
		return fail(fmt.Errorf("runtime: setns mnt: %w", err))
	}
	env := withDefaultEnv(c.Env)
	path, err := lookPath(c.Command[0], env)
	if err != nil {
		return fail(err)
	}
	if err := lockdownAndChdir(&c.Security, c.WorkingDir, c.DevicesLocked, c.Seccomp); err != nil {
		return fail(err)
	}
	// Nothing of ours may leak into the workload (runc does the same).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail(fmt.Errorf("runtime: close fds: %w", err))
	}
	resetSignals()
	err = unix.Exec(path, c.Command, env)
	return fail(fmt.Errorf("runtime: exec %s: %w", path, err))
}

// execIO wires the caller's streams to the exec'd process.
type execIO struct {
	spec    ExecSpec
	child   []*os.File // stdin, stdout, stderr of the child
	parent  []*os.File // our ends: stdin writer, stdout reader, stderr reader (or the pty master)
	devnull *os.File
	// heldSlave is our copy of the pty's slave, kept until the process is
	// reaped: the master then reads EIO only after our own last close, long
	// after the child's final writes, so none of its output is cut off.
	heldSlave  *os.File
	stdinDone  chan struct{}
	resizeDone chan struct{}
}

func newExecIO(spec ExecSpec) (*execIO, error) {
	e := &execIO{spec: spec, stdinDone: make(chan struct{}), resizeDone: make(chan struct{})}
	if spec.TTY {
		master, slave, err := openPty()
		if err != nil {
			return nil, err
		}
		e.parent = []*os.File{master}
		e.child = []*os.File{slave, slave, slave}
		e.heldSlave = slave
		if spec.Size.Rows > 0 {
			setWinsize(master, spec.Size)
		}
		return e, nil
	}
	var err error
	if e.devnull, err = os.Open(os.DevNull); err != nil {
		return nil, fmt.Errorf("runtime: open /dev/null: %w", err)
	}
	stdin := e.devnull
	var stdinW *os.File
	if spec.Stdin != nil {
		if stdin, stdinW, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("runtime: pipe: %w", err)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	e.child = []*os.File{stdin, outW, errW}
	e.parent = []*os.File{stdinW, outR, errR}
	return e, nil
}

func (e *execIO) childFiles() []*os.File { return append([]*os.File(nil), e.child...) }

func (e *execIO) closeChildEnds() {
	for _, f := range e.child {
		if f != nil && f != e.devnull && f != e.heldSlave {
			f.Close()
		}
	}
}

// start copies the streams; the returned group ends with the output.
func (e *execIO) start() *sync.WaitGroup {
	var wg sync.WaitGroup
	copyOut := func(w io.Writer, r *os.File) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w == nil {
				w = io.Discard
			}
			io.Copy(w, r) // a pty master ends with EIO once the child is gone
		}()
	}
	if e.spec.TTY {
		master := e.parent[0]
		copyOut(e.spec.Stdout, master)
		if e.spec.Stdin != nil {
			go func() { io.Copy(master, e.spec.Stdin); close(e.stdinDone) }()
		}
		if e.spec.Resize != nil {
			go func() {
				for {
					select {
					case ws, ok := <-e.spec.Resize:
						if !ok {
							return
						}
						setWinsize(master, ws)
					case <-e.resizeDone:
						return
					}
				}
			}()
		}
		return &wg
	}
	stdout, stderr := e.spec.Stdout, e.spec.Stderr
	if stdout != nil && sameWriter(stdout, stderr) {
		shared := &lockedWriter{w: stdout}
		stdout, stderr = shared, shared
	}
	copyOut(stdout, e.parent[1])
	copyOut(stderr, e.parent[2])
	if w := e.parent[0]; w != nil {
		go func() {
			io.Copy(w, e.spec.Stdin)
			w.Close() // the child sees EOF
			close(e.stdinDone)
		}()
	}
	return &wg
}

// sameWriter reports whether a and b are one writer (like os/exec, only
// for comparable types).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil { // an uncomparable dynamic type
			same = false
		}
	}()
	return a == b
}

// lockedWriter lets two copying goroutines share one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// finish waits for the output to drain after the process has exited.
func (e *execIO) finish(wg *sync.WaitGroup) {
	close(e.resizeDone)
	e.releaseSlave()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second): // a leaked grandchild holds the pipe
	}
}

func (e *execIO) releaseSlave() {
	if e.heldSlave != nil {
		e.heldSlave.Close()
		e.heldSlave = nil
	}
}

func (e *execIO) close() {
	e.releaseSlave()
	for _, f := range e.parent {
		if f != nil {
			f.Close()
		}
	}
	if e.devnull != nil {
		e.devnull.Close()
	}
}

// openPty opens a pseudo-terminal pair on the host's devpts.
func openPty() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: open ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("runtime: unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master, no path lookup.
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		n, nerr := unix.IoctlGetInt(m, unix.TIOCGPTN)
		if nerr != nil {
			unix.Close(m)
			return nil, nil, fmt.Errorf("runtime: pty number: %w", nerr)
		}
		fd, err := unix.Open("/dev/pts/"+strconv.Itoa(n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(m)
			return nil, nil, fmt.Errorf("runtime: open pty slave: %w", err)
		}
		s = uintptr(fd)
	}
	return os.NewFile(uintptr(m), "ptmx"), os.NewFile(uintptr(s), "pts"), nil
}

// setWinsize sets a terminal's size through its raw descriptor (Fd would
// put the file in blocking mode, out of the poller).
func setWinsize(f *os.File, ws WindowSize) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: ws.Rows, Col: ws.Cols})
	})
}
