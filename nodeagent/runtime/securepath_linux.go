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
