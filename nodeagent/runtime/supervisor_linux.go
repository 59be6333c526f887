package runtime

import (
	"bufio"
	"errors"
	"fmt"
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
)

// supervisorReadyFd is where the supervisor tells Create "ok" or an error.
const supervisorReadyFd = 3

// supervisor is the parent of one container for its whole life.
type supervisor struct {
	dir   string
	c     containerConfig
	cg    cgroups.Manager
	log   *logWriter
	ready *os.File
}

// runSupervisor is the re-exec entry of a container's supervisor. It starts
// the init, reports readiness to Create, execs the workload on Start,
// copies its output to the log and records how it ended.
func runSupervisor(dir string) int {
	// The namespaces joined below are per thread; this process does
	// nothing else, so its main thread may stay in them.
	goruntime.LockOSThread()
	// Outlive the terminal and polite kill requests: the container's exit
	// status would be lost without us. SIGKILL still ends us.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	s := &supervisor{dir: dir, ready: os.NewFile(supervisorReadyFd, "ready")}
	unix.CloseOnExec(supervisorReadyFd)
	if err := s.run(); err != nil {
		fmt.Fprintf(os.Stderr, "supervisor %s: %v\n", dir, err)
		if s.ready != nil {
			fmt.Fprintf(s.ready, "error: %v\n", err)
		}
		return 1
	}
	return 0
}

func (s *supervisor) run() error {
	if err := readJSON(s.dir, configFile, &s.c); err != nil {
		return err
	}
	var err error
	s.cg, err = cgroups.New(cgroups.Config{Root: s.c.CgroupRoot, Parent: s.c.CgroupParent}, cgroups.Mode(s.c.CgroupMode), s.c.CgroupPath)
	if err != nil {
		return err
	}
	if s.log, err = openLogWriter(s.c.LogPath, s.c.Spec.LogMaxBytes, s.c.Spec.LogMaxFiles); err != nil {
		return err
	}
	defer s.log.Close()

	pid, msg, syncW, outputs, err := s.startInit()
	if err != nil {
		return err
	}
	pidStart, _ := procStartTime(pid)
	supStart, err := procStartTime(os.Getpid())
	if err != nil {
		return err
	}
	rec := stateRecord{Status: StatusCreated, SupervisorPid: os.Getpid(), SupervisorStart: supStart, Pid: pid, PidStart: pidStart}
	if err := writeJSON(s.dir, stateFile, rec); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return err
	}
	// Open the start fifo before saying ready, so Start finds a reader.
	// O_RDWR: the open does not wait for a writer and reads never see EOF.
	fifo, err := os.OpenFile(filepath.Join(s.dir, startFifo), os.O_RDWR, 0)
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
			startErr = s.release(msg, syncW)
		}
	case <-exited:
		startErr = errors.New("runtime: container ended before it was started")
	}
	if startErr == nil {
		rec.Status, rec.StartedAt = StatusRunning, time.Now()
		startErr = writeJSON(s.dir, stateFile, rec)
	}
	sendReply(reply, startErr)
	if startErr != nil {
		unix.Kill(pid, unix.SIGKILL)
	}
	<-exited
	exit := s.exitRecord(&info, outputs)
	if startErr != nil {
		exit.Error = startErr.Error()
	}
	if err := writeJSON(s.dir, exitFile, exit); err != nil {
		return err
	}
	// Only now may the pid be reused: readers that saw no exit.json and
	// signal the pid still reach the container.
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
	return nil
}

// startInit forks the container's init into new mount and PID namespaces
// (and the sandbox's others), puts it in its cgroup and waits until it is
// ready to exec.
func (s *supervisor) startInit() (pid int, msg *bufio.Reader, syncW *os.File, outputs *sync.WaitGroup, err error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, nil, nil, fmt.Errorf("runtime: open /dev/null: %w", err)
	}
	defer devnull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	msgR, msgW, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID)
	if s.c.NetNS == "" {
		flags |= unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS
	} else if err := joinNamespaces(map[int]string{unix.CLONE_NEWNET: s.c.NetNS, unix.CLONE_NEWIPC: s.c.IPCNS, unix.CLONE_NEWUTS: s.c.UTSNS}); err != nil {
		return 0, nil, nil, nil, err
	}
	exe := "/proc/self/exe"
	proc, err := os.StartProcess(exe, []string{exe, initArg, s.dir}, &os.ProcAttr{
		Files: []*os.File{devnull, outW, errW, syncR, msgW},
		Env:   []string{},
		Sys:   &syscall.SysProcAttr{Cloneflags: flags},
	})
	outW.Close()
	errW.Close()
	syncR.Close()
	msgW.Close()
	if err != nil {
		return 0, nil, nil, nil, fmt.Errorf("runtime: start init: %w", err)
	}
	pid = proc.Pid
	proc.Release()
	outputs = &sync.WaitGroup{}
	for _, p := range []struct {
		name string
		r    *os.File
	}{{"stdout", outR}, {"stderr", errR}} {
		outputs.Add(1)
		go func() {
			defer outputs.Done()
			defer p.r.Close()
			_ = s.log.copyStream(p.name, p.r)
		}()
	}
	abort := func(err error) (int, *bufio.Reader, *os.File, *sync.WaitGroup, error) {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		return 0, nil, nil, nil, err
	}
	if err := s.cg.Apply(pid); err != nil {
		return abort(err)
	}
	if _, err := syncW.Write([]byte{syncCgroup}); err != nil {
		return abort(fmt.Errorf("runtime: sync init: %w", err))
	}
	msg = bufio.NewReader(msgR)
	line, err := msg.ReadString('\n')
	if err != nil {
		return abort(fmt.Errorf("runtime: init died before it was ready"))
	}
	if line = strings.TrimSpace(line); line != "ready" {
		return abort(errors.New(strings.TrimPrefix(line, "error: ")))
	}
	return pid, msg, syncW, outputs, nil
}

// joinNamespaces moves the calling (locked) thread into the given
// namespaces; children forked from it are born there.
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
	return filepath.Join(s.dir, filepath.Base(reply)), nil
}

// release lets the init exec the workload and reports whether it did:
// the message pipe closes on a successful execve.
func (s *supervisor) release(msg *bufio.Reader, syncW *os.File) error {
	defer syncW.Close()
	if _, err := syncW.Write([]byte{syncStart}); err != nil {
		return fmt.Errorf("runtime: release init: %w", err)
	}
	line, _ := msg.ReadString('\n')
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
