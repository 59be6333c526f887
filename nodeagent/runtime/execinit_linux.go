package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/runtime/initprog"
)

// execInit is the program Exec forks into a container's namespaces: the
// init program with a script, or the Go exec init with a config file.
type execInit struct {
	exe     string
	argv    []string
	files   []*os.File         // its descriptors from initprog.BlobFd (execMntFd) on
	failure func([]byte) error // what its message pipe held, as an error
	close   func()
	// joinsCgroup says the process moves itself into the container's
	// cgroup (cgroups.Manager.JoinFiles) rather than waiting to be moved.
	joinsCgroup bool
}

// newGoExec writes cfg for the Go exec init (runExecInit).
func (r *Runtime) newGoExec(cfg execConfig, ns map[string]*os.File) (execInit, error) {
	name := fmt.Sprintf("exec-%d-%d.json", os.Getpid(), time.Now().UnixNano())
	// Under RunDir, not the state dir: the environment may hold secrets.
	dir := r.cfg.envDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return execInit{}, fmt.Errorf("runtime: create env dir: %w", err)
	}
	if err := writeJSON(dir, name, cfg); err != nil {
		return execInit{}, err
	}
	path := filepath.Join(dir, name)
	return execInit{
		exe:   r.cfg.Binary,
		argv:  []string{r.cfg.Binary, execArg, path},
		files: []*os.File{ns["mnt"], ns["cgroup"]},
		failure: func(b []byte) error {
			if msg := strings.TrimSpace(string(b)); msg != "" {
				return errors.New(strings.TrimPrefix(msg, "error: "))
			}
			return nil
		},
		close: func() { os.Remove(path) },
	}, nil
}

// Descriptors of the init program run by Exec, beyond initprog's.
const (
	scriptExecMntFd    = initprog.BlobFd + 1
	scriptExecCgroupFd = initprog.BlobFd + 2
)

// newScriptExec writes cfg as a script for the init program: once in the
// container's cgroup, it enters the container's cgroup and mount
// namespaces, takes the lockdown and execs the command, found in PATH
// below the root of the container's process pid.
func newScriptExec(pid int, cfg execConfig, ns map[string]*os.File, prog *os.File, join []*os.File) (_ execInit, err error) {
	closeAll := func() {
		prog.Close()
		for _, f := range join {
			f.Close()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	env := withDefaultEnv(cfg.Env)
	path, err := lookPathInRootfs("/proc/"+strconv.Itoa(pid)+"/root", cfg.Command[0], env)
	if err != nil {
		return execInit{}, err
	}
	s := &initprog.Script{}
	scratch := s.Bytes(make([]byte, 8))
	cgroupScript(s, len(join), scratch)
	s.Call("runtime: setns cgroup", unix.SYS_SETNS, scriptExecCgroupFd, unix.CLONE_NEWCGROUP)
	s.Call("runtime: setns mnt", unix.SYS_SETNS, scriptExecMntFd, unix.CLONE_NEWNS)
	if err := lockdownScript(s, cfg.Security, cfg.DevicesLocked, cfg.Seccomp, cfg.WorkingDir); err != nil {
		return execInit{}, err
	}
	execScript(s, path, cfg.Command, env)
	blob, err := memfdWith("skiff-exec-script", s.Blob(), 0)
	if err != nil {
		return execInit{}, err
	}
	return execInit{
		exe:   fdPath(scriptProgFd),
		argv:  []string{"exec"},
		files: append([]*os.File{blob, ns["mnt"], ns["cgroup"], prog}, join...),
		failure: func(b []byte) error {
			if len(b) < 8 {
				return nil
			}
			return s.Report(b[:8])
		},
		close:       func() { blob.Close(); closeAll() },
		joinsCgroup: len(join) > 0,
	}, nil
}
