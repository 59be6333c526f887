package image

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

const noFollow = unix.O_NOFOLLOW

// mknodWhiteout makes the 0/0 character device overlayfs reads as "deleted
// in this layer".
func mknodWhiteout(p string) error {
	if err := unix.Mknod(p, unix.S_IFCHR|0o000, 0); err != nil {
		return fmt.Errorf("whiteout %s: %w", p, err)
	}
	return nil
}

// setOpaque marks a directory so overlayfs hides lower layers' contents.
func setOpaque(dir string) error {
	if err := unix.Lsetxattr(dir, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		return fmt.Errorf("opaque %s: %w", dir, err)
	}
	return nil
}

func setXattr(p, attr, value string) error {
	err := unix.Lsetxattr(p, attr, []byte(value), 0)
	if errors.Is(err, unix.ENOTSUP) {
		return nil // the filesystem cannot keep it; neither could Docker's
	}
	return err
}

func mkfifo(p string) error { return unix.Mkfifo(p, 0o600) }

func setTimes(p string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// syncDir flushes the filesystem holding dir, so a layer is on disk before
// the index says it is there. One syncfs is far cheaper than an fsync per
// file.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
