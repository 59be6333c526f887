package runtime

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// setupDev builds a minimal /dev on a tmpfs: the harmless character
// devices, a private devpts, shm and mqueue.
func setupDev(root int) error {
	if err := mountIn(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	dev, err := openInRoot(root, "/dev")
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	// The O_PATH descriptor of the mount point still names the directory
	// below the new tmpfs; reopen it through the mount.
	d, err := unix.Open(fdPath(dev), unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("runtime: open /dev: %w", err)
	}
	defer unix.Close(d)
	nodes := []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, n := range nodes {
		if err := unix.Mknodat(d, n.name, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			return fmt.Errorf("runtime: mknod /dev/%s: %w", n.name, err)
		}
	}
	links := []struct{ target, name string }{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	}
	for _, l := range links {
		if err := unix.Symlinkat(l.target, d, l.name); err != nil {
			return fmt.Errorf("runtime: symlink /dev/%s: %w", l.name, err)
		}
	}
	for _, dir := range []string{"pts", "shm", "mqueue"} {
		if err := unix.Mkdirat(d, dir, 0o755); err != nil {
			return fmt.Errorf("runtime: mkdir /dev/%s: %w", dir, err)
		}
	}
	mounts := []struct {
		dst, fstype string
		flags       uintptr
		data        string
	}{
		{"/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "mode=1777,size=65536k"},
		{"/dev/mqueue", "mqueue", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	}
	for _, m := range mounts {
		if err := mountIn(root, m.dst, m.fstype, m.fstype, m.flags, m.data); err != nil {
			return err
		}
	}
	return nil
}
