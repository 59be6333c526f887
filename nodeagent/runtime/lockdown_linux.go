package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// lockdown holds what a container's process is reduced to before execve.
type lockdown struct {
	uid, gid uint32
	groups   []uint32
	caps     capSet
	last     int
	seccomp  []unix.SockFilter // nil when privileged or unconfined
	nnp      bool              // set no_new_privs
}

// newLockdown computes what the process keeps. devicesLocked says whether
// a device cgroup enforces the device allow-list.
func newLockdown(sc SecurityContext, devicesLocked bool) (*lockdown, error) {
	return planLockdown(sc, devicesLocked, seccompProgram)
}

// planLockdown is newLockdown with the seccomp filter for a capability set
// taken from filter: the runtime builds each filter once and hands it to
// inits in their config (see filters.go), so a container's init does not
// assemble several hundred instructions again on every start.
func planLockdown(sc SecurityContext, devicesLocked bool, filter func(capSet) ([]unix.SockFilter, error)) (*lockdown, error) {
	l := &lockdown{last: lastCap(), groups: sc.SupplementalGroups}
	if sc.RunAsUser != nil {
		l.uid = *sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		l.gid = *sc.RunAsGroup
	}
	var err error
	if l.caps, err = containerCaps(sc, l.last); err != nil {
		return nil, err
	}
	// Last, after the adds: "add: [MKNOD]" must not undo it.
	l.caps &^= forcedDrops(sc, devicesLocked)
	if !sc.Privileged && !sc.SeccompUnconfined {
		if l.seccomp, err = filter(l.caps); err != nil {
			return nil, err
		}
	}
	l.nnp = !sc.Privileged && !sc.AllowPrivilegeEscalation
	return l, nil
}

// apply reduces the calling thread: the caller must be locked to its OS
// thread and execve from it, since all of this is per thread. The raw
// set*id syscalls touch this thread only (Go's wrappers change them all).
func (l *lockdown) apply() error {
	if err := dropBounding(l.caps, l.last); err != nil {
		return err
	}
	if l.seccomp != nil && !l.nnp {
		// Without no_new_privs the kernel takes a filter only from a
		// thread with CAP_SYS_ADMIN: load it while this one is still
		// root. It allows the set*id and capset calls below.
		if err := loadSeccomp(l.seccomp); err != nil {
			return err
		}
	}
	// Keep the permitted set across the uid change; setCaps trims it.
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("runtime: keepcaps: %w", err)
	}
	groups := l.groups
	var gp unsafe.Pointer
	if len(groups) > 0 {
		gp = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(gp), 0); e != 0 {
		return fmt.Errorf("runtime: setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(l.gid), uintptr(l.gid), uintptr(l.gid)); e != 0 {
		return fmt.Errorf("runtime: setresgid %d: %w", l.gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(l.uid), uintptr(l.uid), uintptr(l.uid)); e != 0 {
		return fmt.Errorf("runtime: setresuid %d: %w", l.uid, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("runtime: keepcaps: %w", err)
	}
	if err := setCaps(l.caps); err != nil {
		return err
	}
	if !l.nnp {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("runtime: no_new_privs: %w", err)
	}
	if l.seccomp == nil {
		return nil
	}
	return loadSeccomp(l.seccomp)
}

// defaultPath is the PATH of a container whose env sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds name in the PATH of env, in the current root.
func lookPath(name string, env []string) (string, error) {
	return findInPath(name, env, func(p string) (os.FileInfo, error) { return os.Stat(p) })
}

// lookPathIn finds name in the PATH of env, below root (symlinks resolved
// inside it), and returns its path as seen from root.
func lookPathIn(root int, name string, env []string) (string, error) {
	return findInPath(name, env, func(p string) (os.FileInfo, error) {
		fd, err := openInRoot(root, p)
		if err != nil {
			return nil, err
		}
		f := os.NewFile(uintptr(fd), p)
		defer f.Close()
		return f.Stat()
	})
}

// findInPath is exec.LookPath's search with stat for the file system.
func findInPath(name string, env []string, stat func(string) (os.FileInfo, error)) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("runtime: %q not found in PATH %s", name, path)
}

// withDefaultEnv adds PATH and HOSTNAME-free defaults a container expects.
func withDefaultEnv(env []string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return env
		}
	}
	return append([]string{"PATH=" + defaultPath}, env...)
}
