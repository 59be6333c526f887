package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Reading a container's state: its config (cached), its supervisor's
// record in its live directory, its exit record, its cgroup's usage.

// liveDir is where the supervisor of id keeps its live state: a directory
// of its own under RunDir, or the state directory of a container that a
// Runtime before live directories made (its config says which).
func (r *Runtime) liveDir(id string) string {
	if sum, err := r.configs.summary(r.containerDir(id)); err == nil {
		return sum.liveDir
	}
	return r.newLiveDir(id)
}

// newLiveDir is where Create puts the live directory of id.
func (r *Runtime) newLiveDir(id string) string { return filepath.Join(r.cfg.liveDirs(), id) }

// errNoLiveState: the container exists, its supervisor's record does not:
// its live directory went with a reboot, or Create is setting it up.
var errNoLiveState = errors.New("runtime: no supervisor record")

// readState reads the supervisor's record of id: ErrNotFound without such
// a container, errNoLiveState without a record.
func (r *Runtime) readState(id string) (stateRecord, error) {
	var rec stateRecord
	err := readJSON(r.liveDir(id), stateFile, &rec)
	if errors.Is(err, fs.ErrNotExist) {
		if _, cerr := r.configs.summary(r.containerDir(id)); cerr == nil {
			return rec, errNoLiveState
		}
		return rec, fmt.Errorf("runtime: container %s: %w", id, ErrNotFound)
	}
	return rec, err
}

// State reads a container's state from its directory.
func (r *Runtime) State(id string) (State, error) {
	if err := checkID(id); err != nil {
		return State{}, err
	}
	dir := r.containerDir(id)
	c, err := r.configs.summary(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return State{}, fmt.Errorf("runtime: container %s: %w", id, ErrNotFound)
		}
		return State{}, err
	}
	st := State{
		ID: id, SandboxID: c.sandboxID, Name: c.name, Attempt: c.attempt, Labels: c.labels,
		Status: StatusCreated, CreatedAt: c.createdAt, LogPath: c.logPath,
	}
	if st.Name == "" {
		st.Name, st.Attempt = identityFromID(id, st.SandboxID)
	}
	var ex exitRecord
	if err := readJSON(dir, exitFile, &ex); err == nil {
		st.Status, st.ExitCode, st.Signal, st.OOMKilled = StatusExited, ex.ExitCode, ex.Signal, ex.OOMKilled
		st.Error, st.FinishedAt, st.StartedAt = ex.Error, ex.FinishedAt, ex.StartedAt
		if st.StartedAt.IsZero() { // an exit record of an older supervisor
			var rec stateRecord
			_ = readJSON(c.liveDir, stateFile, &rec)
			st.StartedAt = rec.StartedAt
		}
		return st, nil
	}
	var rec stateRecord
	if err := readJSON(c.liveDir, stateFile, &rec); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return State{}, err
		}
		if _, err := os.Stat(c.liveDir); errors.Is(err, fs.ErrNotExist) {
			// The live directory went with a reboot, and the
			// supervisor with it, before the container ended.
			st.Status = StatusUnknown
		}
		return st, nil // or Create is still setting up
	}
	st.Status, st.StartedAt = rec.Status, rec.StartedAt
	if rec.Status == StatusRunning {
		st.Pid = rec.Pid
	}
	// A supervisor gone without an exit record (killed -9): the
	// container's fate is unknown.
	fd, err := openProcess(rec.SupervisorPid, rec.SupervisorStart)
	if err != nil {
		return State{}, err
	}
	if fd < 0 {
		if err := readJSON(dir, exitFile, &ex); err == nil {
			return r.State(id)
		}
		st.Status, st.Pid = StatusUnknown, 0
		return st, nil
	}
	unix.Close(fd)
	return st, nil
}

// List returns the state of every container in the state directory.
func (r *Runtime) List() ([]State, error) { return r.listPrefix("") }

// ListSandbox returns the state of a sandbox's containers (those made with
// IDs from ContainerID), oldest first. It reads only theirs, not every
// container's.
func (r *Runtime) ListSandbox(sandboxID string) ([]State, error) {
	if err := checkID(sandboxID); err != nil {
		return nil, err
	}
	all, err := r.listPrefix(sandboxID + idSeparator)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, st := range all {
		if st.SandboxID == sandboxID {
			out = append(out, st)
		}
	}
	return out, nil
}

// listPrefix returns the state of the containers whose ID starts with
// prefix.
func (r *Runtime) listPrefix(prefix string) ([]State, error) {
	names, err := r.containers.read()
	if err != nil {
		return nil, err
	}
	var out []State
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		st, err := r.State(name)
		if errors.Is(err, ErrNotFound) {
			continue // being created or removed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Wait blocks until the container has exited (or ctx ends) and returns
// its final state.
func (r *Runtime) Wait(ctx context.Context, id string) (State, error) {
	rec, err := r.readState(id)
	if errors.Is(err, errNoLiveState) {
		return r.State(id)
	}
	if err != nil {
		return State{}, err
	}
	fd, err := openProcess(rec.SupervisorPid, rec.SupervisorStart)
	if err != nil {
		return State{}, err
	}
	if fd >= 0 {
		err = waitPidfd(ctx, fd)
		unix.Close(fd)
		if err != nil {
			return State{}, err
		}
	}
	return r.State(id)
}

// Stats reads the container's cgroup usage.
func (r *Runtime) Stats(id string) (Stats, error) {
	c, err := r.configs.summary(r.containerDir(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Stats{}, fmt.Errorf("runtime: container %s: %w", id, ErrNotFound)
		}
		return Stats{}, err
	}
	cg, err := r.cgroup(c.cgroupPath)
	if err != nil {
		return Stats{}, err
	}
	s, err := cg.Stats()
	if err != nil {
		return Stats{}, err
	}
	return Stats(s), nil
}
