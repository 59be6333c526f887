package nodeagent

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountRunDir makes dir a tmpfs of its own when it lies on a disk and
// holds nothing yet.
//
// What the run directory keeps must go at reboot and never reach a disk:
// the pins of sandboxes' namespaces, pod files, and containers'
// environments, which may hold secrets. Under /run it is a tmpfs on most
// machines, but not on all (a /run on the root file system, or a
// --run-dir elsewhere). It is also cheaper: each pod makes a few
// directories and files there, each an inode allocation on a disk.
//
// A run directory with content is used as it is: it may hold the pins of
// running pods (an agent restarted, or upgraded from one that did not
// mount it), which a mount over it would hide. So is one that is a mount
// point already, whatever its file system.
func mountRunDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nodeagent: run directory: %w", err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return fmt.Errorf("nodeagent: run directory %s: %w", dir, err)
	}
	if fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC || isMountPoint(dir) {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("nodeagent: run directory: %w", err)
	}
	if len(entries) > 0 {
		log.Info("the run directory is on a disk and in use: keeping it there (skiff reset, or a reboot with it empty, lets the agent make it a tmpfs)", "dir", dir)
		return nil
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		log.Warn("could not mount a tmpfs on the run directory; using the disk", "dir", dir, "err", err)
		return nil
	}
	log.Info("mounted a tmpfs on the run directory", "dir", dir)
	return nil
}

// isMountPoint reports whether dir is on another device than its parent.
func isMountPoint(dir string) bool {
	var st, parent unix.Stat_t
	return unix.Stat(dir, &st) == nil && unix.Stat(filepath.Dir(dir), &parent) == nil && st.Dev != parent.Dev
}
