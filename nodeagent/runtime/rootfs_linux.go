package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maskedPaths hide kernel information a container has no business reading.
func maskedPaths() []string {
	return []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
}

// readonlyPaths are kernel knobs a container may read but not turn.
func readonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// overlayOptions builds the overlay mount data; layers are top first, as
// overlayfs wants its lowerdirs.
func overlayOptions(layers []string, upper, work string) (string, error) {
	for _, l := range layers {
		if strings.ContainsAny(l, ":,") {
			return "", fmt.Errorf("runtime: layer path %q holds ':' or ','", l)
		}
	}
	return fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(layers, ":"), upper, work), nil
}

// mountOverlay mounts the layers at target. mount(2) options must fit in
// one page, which a deep image overflows; then the new mount API adds the
// layers one by one ("lowerdir+", Linux 6.8+), and older kernels (Debian
// 12's 6.1 fills one page with "lowerdir+" too, and refuses with EINVAL)
// get the layers through short symlinks.
func mountOverlay(layers []string, upper, work, target string) error {
	err := mountOverlayLong(layers, upper, work, target)
	if errors.Is(err, errNoLowerdirPlus) {
		return mountOverlayLinked(layers, upper, work, target)
	}
	return err
}

var errNoLowerdirPlus = errors.New("runtime: this kernel's overlayfs has no lowerdir+ (Linux 6.8+)")

// mountOverlayLinked names each layer by a short symlink (0, 1, …) in a
// directory beside the work directory, made the working directory for
// the mount(2) call: overlayfs resolves relative lowerdirs from there and
// follows the links, so any depth overlayfs stacks fits in one page.
func mountOverlayLinked(layers []string, upper, work, target string) error {
	links := filepath.Join(filepath.Dir(work), "lowers")
	if err := os.RemoveAll(links); err != nil {
		return fmt.Errorf("runtime: overlay layer links: %w", err)
	}
	if err := os.Mkdir(links, 0o700); err != nil {
		return fmt.Errorf("runtime: overlay layer links: %w", err)
	}
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = strconv.Itoa(i)
		if err := os.Symlink(l, filepath.Join(links, names[i])); err != nil {
			return fmt.Errorf("runtime: overlay layer links: %w", err)
		}
	}
	opts, err := overlayOptions(names, upper, work)
	if err != nil {
		return err
	}
	cwd, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: open the working directory: %w", err)
	}
	defer unix.Close(cwd)
	if err := unix.Chdir(links); err != nil {
		return fmt.Errorf("runtime: chdir %s: %w", links, err)
	}
	defer unix.Fchdir(cwd)
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("runtime: mount overlay (%d layers linked from %s): %w", len(layers), links, err)
	}
	return nil
}

func mountOverlayLong(layers []string, upper, work, target string) error {
	opts, err := overlayOptions(layers, upper, work)
	if err != nil {
		return err
	}
	if len(opts) < unix.Getpagesize()-1 {
		if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
			return fmt.Errorf("runtime: mount overlay: %w", err)
		}
		return nil
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("runtime: fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
			return fmt.Errorf("runtime: overlay %s=%s: %w", k, v, err)
		}
		return nil
	}
	for _, l := range layers {
		if err := set("lowerdir+", l); err != nil {
			// Before 6.8 overlayfs parses no keys itself: the kernel's
			// legacy parser takes any key into one page of options and
			// refuses with EINVAL once that page is full.
			if errors.Is(err, unix.EINVAL) {
				return errNoLowerdirPlus
			}
			return err
		}
	}
	if err := set("upperdir", upper); err != nil {
		return err
	}
	if err := set("workdir", work); err != nil {
		return err
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("runtime: create overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: fsmount overlay: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("runtime: move overlay mount: %w", err)
	}
	return nil
}

// setupRootfs runs in the container's fresh mount namespace, before
// pivot_root: it mounts the overlay and everything that needs a host path.
// proc is called to deal with /proc inside root: the Go init mounts it
// there (mountProc); the supervisor setting up for a script init only
// prepares the mount point, which the init mounts as PID 1 of the
// container's PID namespace.
func setupRootfs(c *containerConfig, proc func(root int) error) error {
	// On systemd hosts "/" is shared; pivot_root refuses a shared parent and
	// our mounts would leak to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("runtime: make / rprivate: %w", err)
	}
	rootfs := filepath.Join(c.Dir, rootfsDir)
	if err := mountOverlay(c.Spec.Layers, filepath.Join(c.Dir, upperDir), filepath.Join(c.Dir, workDir), rootfs); err != nil {
		return err
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: open rootfs: %w", err)
	}
	defer unix.Close(root)

	priv := c.Spec.Security.Privileged
	if err := proc(root); err != nil {
		return err
	}
	if priv {
		if err := bindIn(root, "/dev", "/dev", true, false); err != nil {
			return err
		}
	} else if err := setupDev(root); err != nil {
		return err
	}
	sysFlags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if !priv {
		sysFlags |= unix.MS_RDONLY
	}
	if err := mountIn(root, "/sys", "sysfs", "sysfs", sysFlags, ""); err != nil {
		// sysfs refuses a mount from a network namespace we do not own the
		// way it wants; a read-only recursive bind of the host's will do.
		if err := bindIn(root, "/sys", "/sys", true, !priv); err != nil {
			return err
		}
	}
	files := []struct{ src, dst string }{
		{c.Spec.HostsFile, "/etc/hosts"},
		{c.Spec.HostnameFile, "/etc/hostname"},
		{c.Spec.ResolvConfFile, "/etc/resolv.conf"},
	}
	for _, f := range files {
		if f.src == "" {
			continue
		}
		if err := bindIn(root, f.src, f.dst, false, false); err != nil {
			return err
		}
	}
	for _, m := range c.Spec.Mounts {
		if err := bindMount(root, m); err != nil {
			return err
		}
	}
	return nil
}

// procFlags are the flags /proc is mounted with.
const procFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// mountProc mounts the calling process's PID namespace's procfs at /proc
// inside root.
func mountProc(root int) error {
	return mountIn(root, "/proc", "proc", "proc", procFlags, "")
}

// mountIn mounts a file system at dst inside root.
func mountIn(root int, dst, source, fstype string, flags uintptr, data string) error {
	fd, err := mkdirInRoot(root, dst, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		return fmt.Errorf("runtime: mount %s on %s: %w", fstype, dst, err)
	}
	return nil
}

// bindIn bind-mounts the host path src at dst inside root, read-only if ro.
func bindIn(root int, src, dst string, recursive, ro bool) error {
	fd, err := unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: bind source: %w", err)
	}
	defer unix.Close(fd)
	return bindFd(root, fd, src, dst, recursive, ro)
}

// bindFd mounts a copy of the mount tree at the open descriptor src (named
// name in errors) onto dst inside root. With ro the copy is made read-only,
// submounts included, before it is attached: it is never writable in the
// container.
func bindFd(root, src int, name, dst string, recursive, ro bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("runtime: bind source %s: %w", name, err)
	}
	target, err := mkdirInRoot(root, dst, st.Mode&unix.S_IFMT != unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(src, "", uint(flags))
	if err != nil {
		return fmt.Errorf("runtime: bind %s on %s: %w", name, dst, err)
	}
	defer unix.Close(tree)
	if ro {
		if err := setAttrsRecursive(tree, "", unix.MOUNT_ATTR_RDONLY); err != nil {
			return fmt.Errorf("runtime: bind %s on %s: %w", name, dst, err)
		}
	}
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("runtime: bind %s on %s: %w", name, dst, err)
	}
	return nil
}

// bindMount mounts a container's volume: Source, or its SubPath resolved
// beneath Source without following symlinks.
func bindMount(root int, m Mount) error {
	if m.SubPath == "" {
		return bindIn(root, m.Source, m.Destination, true, m.ReadOnly)
	}
	fd, err := openSubPath(m.Source, m.SubPath)
	if err != nil {
		return fmt.Errorf("runtime: mount %s: %w", m.Destination, err)
	}
	defer unix.Close(fd)
	return bindFd(root, fd, filepath.Join(m.Source, m.SubPath), m.Destination, true, m.ReadOnly)
}

// setAttrsRecursive sets mount attributes (unix.MOUNT_ATTR_*) on the mount
// at path (relative to dirfd; "" is dirfd itself) and every mount below
// it. A remount with MS_RDONLY would change the top mount only.
func setAttrsRecursive(dirfd int, path string, attrs uint64) error {
	flags := uint(unix.AT_RECURSIVE)
	if path == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.MountSetattr(dirfd, path, flags, &unix.MountAttr{Attr_set: attrs}); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	return nil
}

// pivotRoot makes rootfs the root and detaches the old one (runc's
// pivot_root(".", ".") trick: no directory for the old root is needed).
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: open old root: %w", err)
	}
	defer unix.Close(oldroot)
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("runtime: chdir rootfs: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("runtime: pivot_root: %w", err)
	}
	// The old root is now stacked under the new one at "/": step onto it
	// and detach it.
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("runtime: chdir old root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("runtime: make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("runtime: detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("runtime: chdir /: %w", err)
	}
	return nil
}

// finishRootfs runs after pivot_root: masks, read-only knobs and a
// read-only root.
func finishRootfs(c *containerConfig) error {
	if !c.Spec.Security.Privileged {
		for _, p := range maskedPaths() {
			if err := maskPath(p); err != nil {
				return err
			}
		}
		for _, p := range readonlyPaths() {
			if err := readonlyPath(p); err != nil {
				return err
			}
		}
	}
	if c.Spec.Security.ReadOnlyRootFS {
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("runtime: remount / read-only: %w", err)
		}
	}
	return nil
}

func maskPath(p string) error {
	err := unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	if errors.Is(err, unix.ENOTDIR) {
		// A directory: cover it with an empty read-only tmpfs.
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("runtime: mask %s: %w", p, err)
	}
	return nil
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("runtime: bind %s: %w", p, err)
	}
	ro := uint64(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC)
	if err := setAttrsRecursive(unix.AT_FDCWD, p, ro); err != nil {
		return fmt.Errorf("runtime: make %s read-only: %w", p, err)
	}
	return nil
}
