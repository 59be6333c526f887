package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
	"github.com/skiff-sh/skiff/nodeagent/runtime/initprog"
)

// Descriptors a supervisor is started with.
const (
	supervisorReadyFd = 3 // write: "ok" or an error, for Create
	supervisorJobFd   = 4 // read: the container's state and live directories, a line each
)

// supervisor is the parent of one container for its whole life.
type supervisor struct {
	dir   string // the container's state directory
	live  string // its live directory
	c     supervisorConfig
	cg    cgroups.Manager
	log   *logWriter
	ready *os.File
}

// supervisorConfig is the part of config.json (a containerConfig) a
// supervisor reads. A fresh process pays encoding/json for every type it
// meets (field tables built by reflection): the supervisor skips the spec's
// many it has no use for.
type supervisorConfig struct {
	Spec struct {
		LogMaxBytes int64
		LogMaxFiles int
		Resources   struct{ PidsLimit int64 }
		Stdin       bool
		StdinOnce   bool
		TTY         bool
	}
	PIDNS        string
	CgroupRoot   string
	CgroupParent string
	CgroupMode   int
	CgroupPath   string
	LogPath      string
}

// supervisorView is the supervisor's part of c.
func supervisorView(c *containerConfig) supervisorConfig {
	v := supervisorConfig{PIDNS: c.PIDNS, CgroupRoot: c.CgroupRoot, CgroupParent: c.CgroupParent,
		CgroupMode: c.CgroupMode, CgroupPath: c.CgroupPath, LogPath: c.LogPath}
	v.Spec.LogMaxBytes, v.Spec.LogMaxFiles = c.Spec.LogMaxBytes, c.Spec.LogMaxFiles
	v.Spec.Resources.PidsLimit = c.Spec.Resources.PidsLimit
	v.Spec.Stdin, v.Spec.StdinOnce, v.Spec.TTY = c.Spec.Stdin, c.Spec.StdinOnce, c.Spec.TTY
	return v
}

// runSupervisor is the re-exec entry of a container's supervisor. It reads
// its job, sets the container up and starts its init (a Go init is forked
// at once instead, so a supervisor started ahead of need is warm), reports
// readiness to Create, execs the workload on Start, copies its output to
// the log and records how it ended.
func runSupervisor() int {
	goruntime.LockOSThread()
	// Outlive the terminal and polite kill requests: the container's exit
	// status would be lost without us. SIGKILL still ends us.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	s := &supervisor{ready: os.NewFile(supervisorReadyFd, "ready")}
	unix.CloseOnExec(supervisorReadyFd)
	unix.CloseOnExec(supervisorJobFd)
	if err := s.run(); err != nil {
		fmt.Fprintf(os.Stderr, "supervisor %s: %v\n", s.dir, err)
		if s.ready != nil {
			fmt.Fprintf(s.ready, "error: %v\n", err)
		}
		return 1
	}
	return 0
}

// warmConfigDecoding has encoding/json build its tables for the
// container's config (field lists of every type in it), which takes about
// 0.4 ms in a fresh process: a supervisor from the warm pool does it while
// it waits for its job rather than after.
func warmConfigDecoding() {
	if b, err := json.Marshal(containerConfig{}); err == nil {
		_ = json.Unmarshal(b, new(containerConfig))
	}
}

func (s *supervisor) run() error {
	// A script init costs little to start, and is started for its job; a
	// Go init is started at once, for a warm supervisor to hold.
	prog, progErr := initProgram(false)
	scripted := prog != nil
	if scripted {
		defer prog.Close()
	}
	var in *initProc
	var err error
	if !scripted {
		if in, err = forkInit(unix.CLONE_NEWPID, nil); err != nil {
			return err
		}
	}
	abort := func(err error) error {
		if in != nil {
			unix.Kill(in.pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(in.pid, &ws, 0, nil)
		}
		return err
	}
	if scripted {
		go warmConfigDecoding()
	}
	dir, err := readLine(supervisorJobFd)
	if err != nil || dir == "" {
		s.ready = nil
		return abort(nil) // never needed: the Runtime closed or died
	}
	s.dir = dir
	if s.live, err = readLine(supervisorJobFd); err != nil || s.live == "" {
		return abort(fmt.Errorf("runtime: no live directory in the job for %s", dir))
	}
	if err := redirectOutput(filepath.Join(s.live, supervisorLog)); err != nil {
		return abort(err)
	}
	if progErr != nil && !errors.Is(progErr, errGoInit) {
		fmt.Fprintf(os.Stderr, "supervisor: no init program (%v): the Go init sets the container up\n", progErr)
	}
	// A script init is set up here, from the whole config; a Go init
	// reads that itself.
	var whole containerConfig
	if scripted {
		whole, err = readConfig(s.dir)
		s.c = supervisorView(&whole)
	} else {
		err = readJSON(s.dir, configFile, &s.c)
	}
	if err != nil {
		return abort(err)
	}
	sio, err := openStdio(s.c.Spec.Stdin, s.c.Spec.TTY)
	if err != nil {
		return abort(err)
	}
	s.cg, err = cgroups.New(cgroups.Config{Root: s.c.CgroupRoot, Parent: s.c.CgroupParent}, cgroups.Mode(s.c.CgroupMode), s.c.CgroupPath)
	if err != nil {
		return abort(err)
	}
	if scripted {
		// The script init moves itself into the cgroup where it can.
		join, err := s.cg.JoinFiles()
		if err != nil {
			return abort(err)
		}
		in, err = startScriptInit(&whole, prog, sio, join)
		for _, f := range join {
			f.Close()
		}
		if err != nil {
			return err
		}
	} else if s.c.PIDNS != "" || sio != nil {
		// The warm init has a PID namespace of its own, or /dev/null for
		// stdin and no terminal: replace it with one in the pod's
		// namespace or with the container's stdio (this goroutine is
		// locked to its thread).
		in.close()
		abort(nil)
		if s.c.PIDNS != "" {
			in, err = forkSharedInit(s.c.PIDNS, sio)
		} else {
			in, err = forkInit(unix.CLONE_NEWPID, sio)
		}
		if err != nil {
			return err
		}
	}
	var attach *attachServer
	if sio != nil {
		if attach, err = listenAttach(s.live, sio, s.c.Spec.StdinOnce); err != nil {
			return abort(err)
		}
	}
	if s.log, err = openLogWriter(s.c.LogPath, s.c.Spec.LogMaxBytes, s.c.Spec.LogMaxFiles); err != nil {
		return abort(err)
	}
	defer s.log.Close()
	outputs := s.copyOutputs(in, attach)
	if err := s.prepareInit(in); err != nil {
		return abort(err)
	}
	pid := in.pid
	pidStart, _ := procStartTime(pid)
	supStart, err := procStartTime(os.Getpid())
	if err != nil {
		return err
	}
	rec := stateRecord{Status: StatusCreated, SupervisorPid: os.Getpid(), SupervisorStart: supStart, Pid: pid, PidStart: pidStart}
	if err := writeJSON(s.live, stateFile, rec); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return err
	}
	// Open the start fifo before saying ready, so Start finds a reader.
	// O_RDWR: the open does not wait for a writer and reads never see EOF.
	fifo, err := os.OpenFile(filepath.Join(s.live, startFifo), os.O_RDWR, 0)
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return fmt.Errorf("runtime: open start fifo: %w", err)
	}
	fmt.Fprintf(s.ready, "ok\n")
	s.ready.Close()
	s.ready = nil

	// Watch the init from now on: killed before Start (Stop or Remove of a
	// created container), it must not leave us waiting for Start forever.
	exited := make(chan struct{})
	var info unix.Siginfo
	go func() {
		for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		close(exited)
	}()
	type request struct {
		reply string
		err   error
	}
	requests := make(chan request, 1)
	go func() {
		reply, err := s.awaitStart(fifo)
		requests <- request{reply, err}
	}()
	var reply string
	var startErr error
	select {
	case req := <-requests:
		reply, startErr = req.reply, req.err
		if startErr == nil {
			startErr = s.release(in)
		}
	case <-exited:
		startErr = errors.New("runtime: container ended before it was started")
	}
	if startErr == nil {
		rec.Status, rec.StartedAt = StatusRunning, time.Now()
		startErr = writeJSON(s.live, stateFile, rec)
	}
	sendReply(reply, startErr)
	if startErr != nil {
		unix.Kill(pid, unix.SIGKILL)
	}
	<-exited
	sio.releaseSlave()
	if s.c.PIDNS != "" {
		// Not PID 1 of its namespace, the first process takes nothing
		// with it: end what it leaves in its cgroup, as runc does.
		_ = s.cg.Kill()
	}
	exit := s.exitRecord(&info, outputs)
	exit.StartedAt = rec.StartedAt
	if startErr != nil {
		exit.Error = startErr.Error()
	}
	if err := writeJSON(s.dir, exitFile, exit); err != nil {
		return err
	}
	if attach != nil {
		attach.close() // after exit.json: a client at EOF finds how it ended
	}
	// Only now may the pid be reused: readers that saw no exit.json and
	// signal the pid still reach the container.
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
	return nil
}

// initProc is a forked init and our ends of its pipes.
type initProc struct {
	pid            int
	stdout, stderr *os.File
	syncW          *os.File
	msg            *bufio.Reader
	msgR           *os.File
	// script is what a script init runs, to read its reports by; nil
	// for a Go init, which reports in lines.
	script *initprog.Script
	// joinsCgroup says the init moves itself into the container's cgroup
	// (cgroups.Manager.JoinFiles) rather than waiting to be moved.
	joinsCgroup bool
}

// close closes our ends of the init's pipes.
func (in *initProc) close() {
	for _, f := range []*os.File{in.stdout, in.stderr, in.syncW, in.msgR} {
		if f != nil {
			f.Close()
		}
	}
}

// forkInit forks an init with cloneflags: a new PID namespace, or none
// when the calling thread has already entered a pod's PID namespace. It
// waits for its job on the sync pipe; the other namespaces it makes or
// joins itself. Its mount namespace is a copy of ours taken only when the
// job comes (so it sees the mounts made meanwhile): a copy at fork as
// well would cost a second copy of the host's whole mount table, and its
// teardown, per container. With sio (stdin or a terminal) the init's
// stdio is sio's, and with a terminal it is the init's controlling one.
func forkInit(cloneflags uintptr, sio *containerStdio) (*initProc, error) {
	// Our mount namespace, live: the init copies it when its job comes, so
	// it sees mounts made after it was forked (sandboxes, volumes).
	mntns, err := os.Open("/proc/self/ns/mnt")
	if err != nil {
		return nil, fmt.Errorf("runtime: open mount namespace: %w", err)
	}
	defer mntns.Close()
	exe := "/proc/self/exe"
	return startInit(exe, []string{exe, initArg, "-"}, []*os.File{mntns}, cloneflags, sio)
}

// startInit starts an init program with its stdio, sync and message
// pipes, and extra descriptors from initMntFd on.
func startInit(exe string, argv []string, extra []*os.File, cloneflags uintptr, sio *containerStdio) (*initProc, error) {
	var p [4][2]*os.File // stdout, stderr, sync, msg: read end, write end
	var err error
	for i := range p {
		if sio != nil && i < 2 {
			continue
		}
		if p[i][0], p[i][1], err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("runtime: pipe: %w", err)
		}
	}
	stdio := []*os.File{nil, p[0][1], p[1][1]}
	attr := &syscall.SysProcAttr{Cloneflags: cloneflags}
	if sio == nil {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return nil, fmt.Errorf("runtime: open /dev/null: %w", err)
		}
		defer devnull.Close()
		stdio[0] = devnull
	} else {
		stdio = sio.child[:]
		p[0][0], p[1][0] = sio.stdout, sio.stderr
		if sio.tty != nil {
			attr.Setsid, attr.Setctty, attr.Ctty = true, true, 0
		}
	}
	proc, err := os.StartProcess(exe, argv, &os.ProcAttr{
		Files: append([]*os.File{stdio[0], stdio[1], stdio[2], p[2][0], p[3][1]}, extra...),
		Env:   shimEnv(),
		Sys:   attr,
	})
	if sio != nil {
		sio.closeChild()
	}
	for _, f := range []*os.File{p[0][1], p[1][1], p[2][0], p[3][1]} {
		if f != nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: start init: %w", err)
	}
	pid := proc.Pid
	proc.Release()
	return &initProc{pid: pid, stdout: p[0][0], stderr: p[1][0], syncW: p[2][1], msg: bufio.NewReader(p[3][0]), msgR: p[3][0]}, nil
}

// prepareInit gives the init its job, puts it in its cgroup and waits
// until it is ready to exec.
func (s *supervisor) prepareInit(in *initProc) error {
	if in.script == nil {
		if _, err := in.syncW.Write([]byte(s.dir + "\n")); err != nil {
			return fmt.Errorf("runtime: send job to init: %w", err)
		}
	}
	var werr error
	if !in.joinsCgroup {
		if err := s.cg.Apply(in.pid); err != nil {
			return err
		}
		_, werr = in.syncW.Write([]byte{syncCgroup})
	}
	if in.script != nil {
		if err := readReport(in); err != io.EOF {
			return err
		}
		return fmt.Errorf("runtime: init died before it was ready")
	}
	// On a write error the init has died: its last words explain why.
	line, err := in.msg.ReadString('\n')
	if err != nil {
		if werr != nil {
			return fmt.Errorf("runtime: sync init: %w", werr)
		}
		return fmt.Errorf("runtime: init died before it was ready")
	}
	if line = strings.TrimSpace(line); line != "ready" {
		return errors.New(strings.TrimPrefix(line, "error: "))
	}
	return nil
}

// copyOutputs turns the init's (then the workload's) output into log
// records, and passes it to attached clients; the group is done when the
// pipes (or the terminal) end. A terminal's output is logged as stdout.
func (s *supervisor) copyOutputs(in *initProc, attach *attachServer) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, p := range []struct {
		name  string
		frame byte
		r     *os.File
	}{{"stdout", frameStdout, in.stdout}, {"stderr", frameStderr, in.stderr}} {
		if p.r == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.r.Close()
			var r io.Reader = p.r
			if attach != nil {
				r = io.TeeReader(r, attach.output(p.frame))
			}
			_ = s.log.copyStream(p.name, r)
		}()
	}
	return &wg
}

// redirectOutput points our stdout and stderr at the supervisor log, now
// that we know which container we serve.
func redirectOutput(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("runtime: supervisor log: %w", err)
	}
	defer f.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(f.Fd()), fd, 0); err != nil {
			return fmt.Errorf("runtime: redirect output: %w", err)
		}
	}
	return nil
}

// readLine reads one newline-terminated line from fd, a byte at a time so
// nothing after it is consumed.
func readLine(fd int) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("runtime: read: %w", err)
		}
		if n == 0 {
			return "", io.EOF
		}
		if b[0] == '\n' {
			return string(line), nil
		}
		line = append(line, b[0])
	}
}

// enterSandboxNamespaces moves the calling (locked) thread into the
// sandbox's net, IPC and UTS namespaces, or into new ones for a container
// without a sandbox.
func enterSandboxNamespaces(c *containerConfig) error {
	if c.NetNS != "" {
		return joinNamespaces(map[int]string{unix.CLONE_NEWNET: c.NetNS, unix.CLONE_NEWIPC: c.IPCNS, unix.CLONE_NEWUTS: c.UTSNS})
	}
	if err := unix.Unshare(unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("runtime: unshare: %w", err)
	}
	return nil
}

// joinNamespaces moves the calling (locked) thread into the given
// namespaces; what it execs or forks is born there.
func joinNamespaces(ns map[int]string) error {
	for kind, path := range ns {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("runtime: open namespace: %w", err)
		}
		err = unix.Setns(fd, kind)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("runtime: setns %s: %w", path, err)
		}
	}
	return nil
}

// awaitStart blocks until Start asks, and returns the reply fifo to answer.
func (s *supervisor) awaitStart(f *os.File) (string, error) {
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("runtime: read start fifo: %w", err)
	}
	reply, ok := strings.CutPrefix(strings.TrimSpace(line), "start ")
	if !ok {
		return "", fmt.Errorf("runtime: bad start request %q", line)
	}
	return filepath.Join(s.live, filepath.Base(reply)), nil
}

// release lets the init exec the workload and reports whether it did:
// the message pipe closes on a successful execve.
func (s *supervisor) release(in *initProc) error {
	syncW := in.syncW
	defer syncW.Close()
	// The pids limit lands only now: the init is a Go program whose
	// runtime starts threads while it sets the container up, and a thread
	// it cannot start is fatal. Its threads end at execve.
	if n := s.c.Spec.Resources.PidsLimit; n > 0 {
		if err := s.cg.Set(cgroups.Resources{PidsLimit: n}); err != nil {
			return err
		}
	}
	if _, err := syncW.Write([]byte{syncStart}); err != nil {
		return fmt.Errorf("runtime: release init: %w", err)
	}
	if in.script != nil {
		if err := readReport(in); err != io.EOF {
			if err == nil {
				err = errors.New("runtime: the init reported ready twice")
			}
			return err
		}
		return nil
	}
	line, _ := in.msg.ReadString('\n')
	if line = strings.TrimSpace(line); line != "" {
		return errors.New(strings.TrimPrefix(line, "error: "))
	}
	return nil
}

func sendReply(path string, err error) {
	if path == "" {
		return
	}
	f, oerr := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if oerr != nil {
		return // the caller gave up waiting
	}
	defer f.Close()
	if err != nil {
		fmt.Fprintf(f, "error: %v\n", err)
		return
	}
	fmt.Fprintf(f, "ok\n")
}

// exitRecord says how the container's first process ended (info is from
// a waitid that left it unreaped) once its output is drained.
func (s *supervisor) exitRecord(info *unix.Siginfo, outputs *sync.WaitGroup) exitRecord {
	rec := exitRecord{FinishedAt: time.Now()}
	code, status := siginfoStatus(info)
	switch code {
	case cldExited:
		rec.ExitCode = status
	default:
		rec.Signal = status
		rec.ExitCode = 128 + status
	}
	// The pipes end when the last process of the PID namespace is gone,
	// which the kernel sees to right after PID 1; do not hang on a leak.
	done := make(chan struct{})
	go func() { outputs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	if n, err := s.cg.OOMKills(); err == nil && n > 0 {
		rec.OOMKilled = true
	}
	return rec
}
