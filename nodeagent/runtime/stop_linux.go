package runtime

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Stop sends sig (SIGTERM if 0) to the container and, if it is still
// running after timeout, kills everything in its cgroup.
func (r *Runtime) Stop(ctx context.Context, id string, sig syscall.Signal, timeout time.Duration) error {
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	rec, err := r.readState(id)
	if errors.Is(err, errNoLiveState) {
		return nil // nothing runs
	}
	if err != nil {
		return err
	}
	sup, err := openProcess(rec.SupervisorPid, rec.SupervisorStart)
	if err != nil || sup < 0 {
		return err // nothing left to stop
	}
	defer unix.Close(sup)
	if rec.Status == StatusRunning {
		if err := r.signal(id, rec, sig); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, timeout)
		err := waitPidfd(wctx, sup)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := r.kill(id, rec); err != nil {
		return err
	}
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return waitPidfd(kctx, sup)
}

// Signal sends sig to the container's first process.
func (r *Runtime) Signal(id string, sig syscall.Signal) error {
	rec, err := r.readState(id)
	if errors.Is(err, errNoLiveState) {
		return fmt.Errorf("runtime: signal %s: %w", id, ErrNotRunning)
	}
	if err != nil {
		return err
	}
	return r.signal(id, rec, sig)
}

func (r *Runtime) signal(id string, rec stateRecord, sig syscall.Signal) error {
	// The supervisor reaps only after writing exit.json: with no exit.json
	// and the start time matching, the pid is still the container's.
	fd, err := openProcess(rec.Pid, rec.PidStart)
	if err != nil {
		return err
	}
	if fd < 0 {
		return fmt.Errorf("runtime: signal %s: %w", id, ErrNotRunning)
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("runtime: signal %s: %w", id, err)
	}
	return nil
}

// kill ends the whole container: the init if it has not exec'd yet, and
// every process in its cgroup (the PID namespace dies with its first).
func (r *Runtime) kill(id string, rec stateRecord) error {
	var c containerConfig
	if err := readJSON(r.containerDir(id), configFile, &c); err != nil {
		return err
	}
	cg, err := r.cgroup(c.CgroupPath)
	if err != nil {
		return err
	}
	if fd, err := openProcess(rec.Pid, rec.PidStart); err == nil && fd >= 0 {
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		unix.Close(fd)
	}
	_ = cg.Thaw() // a frozen task ignores SIGKILL
	return cg.Kill()
}
