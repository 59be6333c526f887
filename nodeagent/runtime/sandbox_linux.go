package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// sandboxNamespaces are the namespaces a sandbox holds, by file name.
func sandboxNamespaces() []struct {
	name string
	flag int
} {
	return []struct {
		name string
		flag int
	}{{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}}
}

func (r *Runtime) sandboxDir(id string) string { return filepath.Join(r.cfg.sandboxesDir(), id) }

// CreateSandbox makes the pod's network, IPC and UTS namespaces, held by
// bind mounts (no pause process), sets its hostname and creates the pod
// cgroup (pids limited to DefaultPodPids unless spec says otherwise).
func (r *Runtime) CreateSandbox(spec SandboxSpec) (Sandbox, error) {
	if err := checkID(spec.ID); err != nil {
		return Sandbox{}, err
	}
	dir := r.sandboxDir(spec.ID)
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		if _, live := r.sandbox(spec.ID); live == nil {
			return Sandbox{}, fmt.Errorf("runtime: sandbox %s: %w", spec.ID, ErrExists)
		}
		// What a sandbox whose namespaces are gone left behind (a reboot
		// on a machine whose run directory is no tmpfs): made again.
		if err = r.RemoveSandbox(spec.ID); err == nil {
			err = os.Mkdir(dir, 0o700)
		}
	}
	if err != nil {
		return Sandbox{}, fmt.Errorf("runtime: create sandbox dir: %w", err)
	}
	sb := r.sandboxPaths(spec.ID)
	if err := r.createSandbox(spec, dir, sb); err != nil {
		_ = r.RemoveSandbox(spec.ID)
		return Sandbox{}, err
	}
	if spec.SharePID {
		sb.PIDNS = filepath.Join(dir, pidNSFile)
	}
	return sb, nil
}

func (r *Runtime) sandboxPaths(id string) Sandbox {
	dir := r.sandboxDir(id)
	return Sandbox{ID: id, NetNS: filepath.Join(dir, "net"), IPCNS: filepath.Join(dir, "ipc"),
		UTSNS: filepath.Join(dir, "uts"), CgroupPath: podCgroupPath(id)}
}

func (r *Runtime) createSandbox(spec SandboxSpec, dir string, sb Sandbox) error {
	res := toCgroupResources(spec.Resources)
	if res.PidsLimit == 0 {
		res.PidsLimit = DefaultPodPids
	}
	cg, err := r.cgroup(sb.CgroupPath)
	if err != nil {
		return err
	}
	if err := cg.Create(res); err != nil {
		return err
	}
	for _, ns := range sandboxNamespaces() {
		f, err := os.Create(filepath.Join(dir, ns.name))
		if err != nil {
			return fmt.Errorf("runtime: create ns file: %w", err)
		}
		f.Close()
	}
	if spec.SharePID {
		if err := r.startPause(dir, sb.CgroupPath); err != nil {
			return err
		}
	}
	// Unshare on a thread of our own, pin its namespaces with bind mounts,
	// and let the thread die with them: it must never run other goroutines.
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread exits with us
		errc <- pinNamespaces(dir, spec.Hostname)
	}()
	return <-errc
}

func pinNamespaces(dir, hostname string) error {
	flags := 0
	for _, ns := range sandboxNamespaces() {
		flags |= ns.flag
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("runtime: unshare: %w", err)
	}
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("runtime: sethostname: %w", err)
		}
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	tid := strconv.Itoa(unix.Gettid())
	for _, ns := range sandboxNamespaces() {
		src := filepath.Join("/proc/self/task", tid, "ns", ns.name)
		if err := unix.Mount(src, filepath.Join(dir, ns.name), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("runtime: pin %s namespace: %w", ns.name, err)
		}
	}
	return nil
}

// Sandbox returns the paths of an existing sandbox.
func (r *Runtime) Sandbox(id string) (Sandbox, error) { return r.sandbox(id) }

func (r *Runtime) sandbox(id string) (Sandbox, error) {
	if err := checkID(id); err != nil {
		return Sandbox{}, err
	}
	sb := r.sandboxPaths(id)
	var st unix.Statfs_t
	if err := unix.Statfs(sb.NetNS, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		return Sandbox{}, fmt.Errorf("runtime: sandbox %s: %w", id, ErrNotFound)
	}
	sb.PIDNS = r.sharedPIDNS(id)
	return sb, nil
}

// ListSandboxes returns the ids of the sandboxes in the run directory.
func (r *Runtime) ListSandboxes() ([]string, error) {
	ents, err := os.ReadDir(r.cfg.sandboxesDir())
	if err != nil {
		return nil, fmt.Errorf("runtime: list sandboxes: %w", err)
	}
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// DestroySandboxCgroup kills every process in the sandbox's pod cgroup
// (its pause process too, thawing it first: a frozen task ignores SIGKILL) and removes it, in
// every hierarchy. Nothing there is not an error.
func (r *Runtime) DestroySandboxCgroup(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	// The pause first: with cgroup v1 a cgroup's kill reaches only its
	// own processes, not those of the cgroups below it.
	if err := r.destroyPause(id); err != nil {
		return err
	}
	cg, err := r.cgroup(podCgroupPath(id))
	if err != nil {
		return nil
	}
	return cg.Destroy()
}

// SandboxIDs lists every sandbox the runtime holds state of: pinned
// namespaces in the run directory, or containers in the state directory
// (after a reboot the namespaces are gone but the containers' state is
// not). A caller that tears down what is left removes these.
func (r *Runtime) SandboxIDs() ([]string, error) {
	set := map[string]bool{}
	pinned, err := r.ListSandboxes()
	if err != nil {
		return nil, err
	}
	for _, id := range pinned {
		set[id] = true
	}
	ents, err := os.ReadDir(r.cfg.containersDir())
	if err != nil {
		return nil, fmt.Errorf("runtime: list: %w", err)
	}
	for _, e := range ents {
		var c containerConfig
		if err := readJSON(filepath.Join(r.cfg.containersDir(), e.Name()), configFile, &c); err == nil && c.Spec.SandboxID != "" {
			set[c.Spec.SandboxID] = true
		}
	}
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// RemoveSandbox unpins the namespaces and removes the pod cgroup (killing
// anything left in it). Remove the sandbox's containers first.
func (r *Runtime) RemoveSandbox(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	dir := r.sandboxDir(id)
	var errs []error
	for _, name := range []string{"net", "ipc", "uts", pidNSFile} {
		p := filepath.Join(dir, name)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("runtime: unpin %s: %w", p, err))
		}
	}
	if err := r.DestroySandboxCgroup(id); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("runtime: remove sandbox dir: %w", err))
	}
	return errors.Join(errs...)
}

// loopbackUp brings up "lo" in the calling thread's network namespace, as
// CNI's loopback plugin would: containers of a pod talk over localhost.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: loopback socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("runtime: loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("runtime: loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("runtime: loopback up: %w", err)
	}
	return nil
}
