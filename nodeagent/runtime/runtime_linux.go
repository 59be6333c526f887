package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

// Config says where a Runtime keeps its state.
type Config struct {
	// StateDir holds one directory per container (spec, exit record,
	// upper and work dirs, default log). Default /var/lib/skiff/runtime.
	StateDir string
	// RunDir holds the sandboxes' namespace bind mounts and each
	// container's live state (its supervisor's state file, start fifo and
	// log), which a reboot ends. Default /run/skiff/runtime.
	RunDir string
	// Binary is re-executed as supervisor and init; it must call
	// RunReexecEntry first thing. Default: this executable.
	Binary string
	// WarmSupervisors is how many supervisors (each with its init forked)
	// to keep started ahead of Create. It takes the start-up of a large
	// binary (two re-execs) out of Create's latency; 0 disables it. Call
	// Close to end the idle ones.
	WarmSupervisors int
	// GoInit starts containers with the Go init (the shim re-executed)
	// even where the init program of package initprog runs: to compare
	// the two, and to test the Go init kept for other architectures.
	GoInit bool
	// Cgroups places skiff's cgroups; CgroupMode forces v1 or v2.
	Cgroups    cgroups.Config
	CgroupMode cgroups.Mode
	Logger     *slog.Logger
}

// Runtime creates and controls containers. Its methods are safe for
// concurrent use on different containers.
type Runtime struct {
	cfg        Config
	log        *slog.Logger
	pool       *supervisorPool
	spares     *spares
	containers *dirListing
	configs    configCache
	filters    filterCache
}

// New prepares the state directories. Containers already there (from an
// earlier Runtime) are listed and controlled like new ones.
func New(cfg Config) (*Runtime, error) {
	if cfg.StateDir == "" {
		cfg.StateDir = "/var/lib/skiff/runtime"
	}
	if cfg.RunDir == "" {
		cfg.RunDir = "/run/skiff/runtime"
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("runtime: find own binary: %w", err)
		}
		cfg.Binary = exe
	}
	if cfg.Cgroups.Root == "" {
		cfg.Cgroups.Root = cgroups.DefaultRoot
	}
	if cfg.Cgroups.Parent == "" {
		cfg.Cgroups.Parent = cgroups.DefaultParent
	}
	if cfg.CgroupMode == cgroups.ModeAuto {
		cfg.CgroupMode = cgroups.Detect(cfg.Cgroups.Root)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.containersDir(), cfg.liveDirs(), cfg.sandboxesDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("runtime: create %s: %w", d, err)
		}
	}
	sp, err := newSpares(cfg.sparesDir())
	if err != nil {
		return nil, err
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger, spares: sp, containers: &dirListing{path: cfg.containersDir()}}
	r.pool = newSupervisorPool(cfg.WarmSupervisors, r.startSupervisor)
	return r, nil
}

// Close ends the idle warm supervisors and removes the spare directories.
// Containers keep running.
func (r *Runtime) Close() error {
	r.pool.close()
	return r.spares.close()
}

// HasState reports whether cfg's directories (StateDir and RunDir, as
// given) hold any runtime state — containers or sandboxes — without
// making them as New would: a caller that tears down what a runtime left
// opens one only then.
func HasState(cfg Config) bool {
	for _, d := range []string{cfg.containersDir(), cfg.sandboxesDir()} {
		if _, err := os.Stat(d); err == nil {
			return true
		}
	}
	return false
}

func (c Config) containersDir() string { return filepath.Join(c.StateDir, "containers") }
func (c Config) liveDirs() string      { return filepath.Join(c.RunDir, "containers") }
func (c Config) sandboxesDir() string  { return filepath.Join(c.RunDir, "sandboxes") }

func (r *Runtime) containerDir(id string) string { return filepath.Join(r.cfg.containersDir(), id) }

func (r *Runtime) cgroup(path string) (cgroups.Manager, error) {
	return cgroups.New(r.cfg.Cgroups, r.cfg.CgroupMode, path)
}

func podCgroupPath(sandboxID string) string { return "pod-" + sandboxID }

// Create prepares a container: its state directory, cgroup, root file
// system and locked-down init, waiting to exec the command on Start.
func (r *Runtime) Create(ctx context.Context, spec ContainerSpec) (State, error) {
	if err := validateSpec(&spec); err != nil {
		return State{}, err
	}
	dir, live := r.containerDir(spec.ID), r.newLiveDir(spec.ID)
	// The live directory first: a state directory with a config is never
	// without one, but after a reboot.
	if err := os.Mkdir(live, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return State{}, fmt.Errorf("runtime: container %s: %w", spec.ID, ErrExists)
		}
		return State{}, fmt.Errorf("runtime: create live dir: %w", err)
	}
	// The supervisor next: when none is warm, its start (a Go runtime's,
	// about 1.5 ms of CPU) runs on another CPU beside the set-up below.
	sup, err := r.pool.take(r.startSupervisor)
	if err != nil {
		os.Remove(live)
		return State{}, err
	}
	defer r.pool.refill() // once this container no longer needs the CPU
	defer sup.discard()   // unless it has its job
	reused := r.spares.take(dir)
	if !reused {
		if err := os.Mkdir(dir, 0o700); err != nil {
			os.Remove(live)
			if errors.Is(err, fs.ErrExist) {
				return State{}, fmt.Errorf("runtime: container %s: %w", spec.ID, ErrExists)
			}
			return State{}, fmt.Errorf("runtime: create state dir: %w", err)
		}
	}
	c := containerConfig{
		Spec: spec, Dir: dir, RunDir: live, CreatedAt: time.Now(),
		CgroupRoot: r.cfg.Cgroups.Root, CgroupParent: r.cfg.Cgroups.Parent, CgroupMode: int(r.cfg.CgroupMode),
		CgroupPath: spec.ID, LogPath: spec.LogPath,
	}
	if c.LogPath == "" {
		c.LogPath = filepath.Join(dir, defaultLogName)
	}
	t0 := time.Now()
	st, err := r.create(ctx, &c, reused, sup)
	if err != nil {
		r.cleanup(&c, false)
		r.log.Debug("create failed", "container", spec.ID, "err", err)
		return State{}, err
	}
	r.log.Debug("created", "container", spec.ID, "sandbox", spec.SandboxID, "took", time.Since(t0))
	return st, nil
}

func validateSpec(s *ContainerSpec) error {
	if err := checkID(s.ID); err != nil {
		return err
	}
	if s.SandboxID != "" {
		if err := checkID(s.SandboxID); err != nil {
			return err
		}
	}
	if len(s.Layers) == 0 {
		return errors.New("runtime: spec has no layers")
	}
	if len(s.Command) == 0 {
		return errors.New("runtime: spec has no command")
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("runtime: mount %s:%s: paths must be absolute", m.Source, m.Destination)
		}
		if err := checkSubPath(m.SubPath); err != nil {
			return fmt.Errorf("runtime: mount %s:%s: %w", m.Source, m.Destination, err)
		}
	}
	return nil
}

// create sets up the container in its state directory c.Dir, which is a
// spare (holding the work directory and mount point) when reused, and
// hands it to sup.
func (r *Runtime) create(ctx context.Context, c *containerConfig, reused bool, sup *idleSupervisor) (State, error) {
	if sid := c.Spec.SandboxID; sid != "" {
		sb, err := r.sandbox(sid)
		if err != nil {
			return State{}, err
		}
		c.NetNS, c.IPCNS, c.UTSNS, c.PIDNS = sb.NetNS, sb.IPCNS, sb.UTSNS, sb.PIDNS
		c.CgroupPath = filepath.Join(sb.CgroupPath, c.Spec.ID)
	}
	dirs := []string{upperDir, workDir, rootfsDir}
	if reused {
		dirs = dirs[:1]
	}
	for _, d := range dirs {
		if err := os.Mkdir(filepath.Join(c.Dir, d), 0o755); err != nil {
			return State{}, fmt.Errorf("runtime: create %s: %w", d, err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(c.RunDir, startFifo), 0o600); err != nil {
		return State{}, fmt.Errorf("runtime: mkfifo: %w", err)
	}
	cg, err := r.cgroup(c.CgroupPath)
	if err != nil {
		return State{}, err
	}
	res := toCgroupResources(c.Spec.Resources)
	res.RestrictDevices = !c.Spec.Security.Privileged && cg.RestrictsDevices()
	c.DevicesLocked = res.RestrictDevices
	// The supervisor sets the pids limit just before the workload's exec.
	res.PidsLimit = 0
	if c.Seccomp, err = r.filterFor(c.Spec.Security, c.DevicesLocked); err != nil {
		return State{}, err
	}
	if err := cg.Create(res); err != nil {
		return State{}, err
	}
	if err := r.writeConfig(c); err != nil {
		return State{}, err
	}
	if err := r.handJob(ctx, sup, c.Dir, c.RunDir); err != nil {
		return State{}, err
	}
	return r.State(c.Spec.ID)
}

func toCgroupResources(r Resources) cgroups.Resources {
	return cgroups.Resources{CPUShares: r.CPUShares, CPUQuotaUs: r.CPUQuotaUs,
		CPUPeriodUs: r.CPUPeriodUs, MemoryLimit: r.MemoryLimit, PidsLimit: r.PidsLimit}
}

// handJob hands a container's state and live directories to its
// supervisor and waits until the container's init is ready (or failed).
func (r *Runtime) handJob(ctx context.Context, sup *idleSupervisor, dir, live string) error {
	defer sup.ready.Close()
	_, err := sup.job.WriteString(dir + "\n" + live + "\n")
	sup.job.Close()
	if err != nil {
		sup.cmd.Process.Kill()
		return fmt.Errorf("runtime: hand job to supervisor: %w", err)
	}
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(sup.ready).ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case <-ctx.Done():
		sup.cmd.Process.Kill()
		return ctx.Err()
	case res := <-ch:
		if res.line == "ok" {
			return nil
		}
		if msg, ok := strings.CutPrefix(res.line, "error: "); ok {
			return fmt.Errorf("runtime: create: %s", msg)
		}
		b, _ := os.ReadFile(filepath.Join(live, supervisorLog))
		return fmt.Errorf("runtime: supervisor died: %s", strings.TrimSpace(string(b)))
	}
}

// startSupervisor starts a supervisor in a session of its own; it forks
// its init at once and then waits for a job.
func (r *Runtime) startSupervisor() (*idleSupervisor, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	jobR, jobW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return nil, fmt.Errorf("runtime: pipe: %w", err)
	}
	cmd := exec.Command(r.cfg.Binary, supervisorArg, "-")
	cmd.ExtraFiles = []*os.File{readyW, jobR}
	cmd.Env = shimEnv()
	if r.cfg.GoInit {
		cmd.Env = append(cmd.Env, goInitEnv+"=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	jobR.Close()
	if err != nil {
		readyR.Close()
		jobW.Close()
		return nil, fmt.Errorf("runtime: start supervisor: %w", err)
	}
	// The supervisor is our child until we exit: reap it when it ends.
	go cmd.Wait()
	return &idleSupervisor{cmd: cmd, ready: readyR, job: jobW}, nil
}

// Start execs the command of a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	st, err := r.State(id)
	if err != nil {
		return err
	}
	if st.Status != StatusCreated {
		return fmt.Errorf("runtime: start %s (%s): %w", id, st.Status, ErrNotCreated)
	}
	dir := r.liveDir(id)
	reply := filepath.Join(dir, fmt.Sprintf("reply-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := unix.Mkfifo(reply, 0o600); err != nil {
		return fmt.Errorf("runtime: mkfifo: %w", err)
	}
	defer os.Remove(reply)
	rfd, err := unix.Open(reply, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: open reply fifo: %w", err)
	}
	defer unix.Close(rfd)
	wfd, err := unix.Open(filepath.Join(dir, startFifo), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: start %s: supervisor is not listening: %w", id, err)
	}
	_, err = unix.Write(wfd, []byte("start "+filepath.Base(reply)+"\n"))
	unix.Close(wfd)
	if err != nil {
		return fmt.Errorf("runtime: start request: %w", err)
	}
	// A fifo reader that never had a writer polls quiet (no POLLHUP) until
	// the supervisor opens it and answers.
	var answer []byte
	buf := make([]byte, 512)
	for {
		fds := []unix.PollFd{{Fd: int32(rfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("runtime: wait for start: %w", err)
		}
		if n > 0 {
			k, err := unix.Read(rfd, buf)
			if k > 0 {
				answer = append(answer, buf[:k]...)
				continue
			}
			if k == 0 || (err != nil && !errors.Is(err, unix.EAGAIN)) {
				break
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := r.supervisorAlive(id); err != nil {
			// Since the poll it may have answered, and ended with a
			// short-lived container: its answer waits in the fifo.
			answer = append(answer, readAvailable(rfd, buf)...)
			if len(answer) == 0 {
				return err
			}
			break
		}
	}
	line := strings.TrimSpace(string(answer))
	if line == "ok" {
		r.log.Debug("started", "container", id)
		return nil
	}
	return fmt.Errorf("runtime: start %s: %s", id, strings.TrimPrefix(line, "error: "))
}

// Remove kills the container if it still runs, then deletes its cgroup,
// upper and work dirs and state directory (and its default log).
func (r *Runtime) Remove(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	dir := r.containerDir(id)
	var c containerConfig
	if err := readJSON(dir, configFile, &c); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// A Create that died half way left one or both.
			live := r.newLiveDir(id)
			_, serr := os.Stat(dir)
			_, lerr := os.Stat(live)
			if serr != nil && lerr != nil {
				return fmt.Errorf("runtime: container %s: %w", id, ErrNotFound)
			}
			return errors.Join(os.RemoveAll(dir), os.RemoveAll(live))
		}
		return err
	}
	if rec, err := r.readState(id); err == nil {
		if sup, err := openProcess(rec.SupervisorPid, rec.SupervisorStart); err == nil && sup >= 0 {
			if err := r.kill(id, rec); err != nil {
				unix.Close(sup)
				return err
			}
			if rec.Status != StatusRunning {
				// Still waiting for Start: it would wait forever.
				unix.PidfdSendSignal(sup, unix.SIGKILL, nil, 0)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := waitPidfd(wctx, sup)
			cancel()
			unix.Close(sup)
			if err != nil {
				return fmt.Errorf("runtime: remove %s: supervisor did not exit: %w", id, err)
			}
		}
	}
	r.log.Debug("removing", "container", id)
	return r.cleanup(&c, true)
}

// cleanup removes what Create made; parts that are missing are skipped.
// With spare set, the state directory may be kept for a later Create.
func (r *Runtime) cleanup(c *containerConfig, spare bool) error {
	var errs []error
	if cg, err := r.cgroup(c.CgroupPath); err == nil {
		if err := cg.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	// The overlay lives in the container's mount namespace only; it is
	// gone with the last process, so the upper dir is a plain tree here.
	if !spare || !r.spares.keep(c.Dir) {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("runtime: remove state dir: %w", err))
		}
	}
	// After the state directory: one with a config always has its live
	// directory (but after a reboot).
	if c.RunDir != "" {
		if err := os.RemoveAll(c.RunDir); err != nil {
			errs = append(errs, fmt.Errorf("runtime: remove live dir: %w", err))
		}
	}
	if err := removeEnv(c); err != nil {
		errs = append(errs, err)
	}
	r.configs.forget(c.Dir)
	return errors.Join(errs...)
}
