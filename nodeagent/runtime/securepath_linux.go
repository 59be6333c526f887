package runtime

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// openInRoot opens path as if root were "/": symlinks and ".." in an
// image's file system cannot lead out of it (openat2 RESOLVE_IN_ROOT). The
// result is an O_PATH descriptor, to mount on through /proc/self/fd/N.
func openInRoot(root int, path string) (int, error) {
	fd, err := unix.Openat2(root, path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("runtime: open %s in rootfs: %w", path, err)
	}
	return fd, nil
}

// mkdirInRoot creates path and its missing parents below root, each step
// resolved inside root, and returns an O_PATH descriptor of it. With file
// true the last element is created as an empty file (a bind target).
func mkdirInRoot(root int, path string, file bool) (int, error) {
	if fd, err := openInRoot(root, path); err == nil {
		return fd, nil
	}
	parts := strings.Split(strings.Trim(filepath.Clean("/"+path), "/"), "/")
	cur := "/"
	for i, p := range parts {
		parent, err := openInRoot(root, cur)
		if err != nil {
			return -1, err
		}
		last := i == len(parts)-1
		if last && file {
			var fd int
			fd, err = unix.Openat(parent, p, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			}
		} else {
			err = unix.Mkdirat(parent, p, 0o755)
		}
		unix.Close(parent)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("runtime: create %s in rootfs: %w", path, err)
		}
		cur = filepath.Join(cur, p)
	}
	return openInRoot(root, path)
}

// fdPath names an open descriptor for mount(2), which follows the link.
func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// checkSubPath refuses a subPath that names no entry below its volume.
func checkSubPath(sub string) error {
	if sub == "" {
		return nil
	}
	if strings.HasPrefix(sub, "/") {
		return fmt.Errorf("subPath %q is absolute", sub)
	}
	for _, p := range strings.Split(sub, "/") {
		if p == ".." {
			return fmt.Errorf("subPath %q climbs out with \"..\"", sub)
		}
	}
	return nil
}

// beneathNoSymlinks resolves a path strictly below a directory: no "..",
// no absolute path and no symlink anywhere on the way, so whatever the
// workload did to the volume, the result is inside it.
var beneathNoSymlinks = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
}

// openSubPath opens sub below the directory base, creating missing
// directories. The result is an O_PATH descriptor to bind from: the mount
// gets exactly the inode checked here, whatever is renamed meanwhile.
func openSubPath(base, sub string) (int, error) {
	dir, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open volume %s: %w", base, err)
	}
	defer unix.Close(dir)
	fd, err := openBeneath(dir, sub)
	if errors.Is(err, unix.ENOENT) {
		if err = mkdirBeneath(dir, sub); err == nil {
			fd, err = openBeneath(dir, sub)
		}
	}
	switch {
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("subPath %q goes through a symlink", sub)
	case errors.Is(err, unix.EXDEV):
		return -1, fmt.Errorf("subPath %q leads out of the volume", sub)
	case err != nil:
		return -1, fmt.Errorf("subPath %q: %w", sub, err)
	}
	return fd, nil
}

func openBeneath(dir int, path string) (int, error) {
	how := beneathNoSymlinks
	return unix.Openat2(dir, path, &how)
}

// mkdirBeneath creates path's missing directories one at a time, each
// parent resolved beneath dir without following symlinks (mkdirat never
// follows one in the last element).
func mkdirBeneath(dir int, path string) error {
	cur := "."
	for _, p := range strings.Split(filepath.Clean(path), "/") {
		parent, err := openBeneath(dir, cur)
		if err != nil {
			return err
		}
		err = unix.Mkdirat(parent, p, 0o755)
		unix.Close(parent)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		cur = filepath.Join(cur, p)
	}
	return nil
}
