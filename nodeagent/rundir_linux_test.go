package nodeagent

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// diskDir returns a new empty directory on a file system that is not a
// tmpfs: the test's temporary directory where it is on a disk, else one
// under /var/tmp.
func diskDir(t *testing.T) string {
	t.Helper()
	for _, base := range []string{os.TempDir(), "/var/tmp"} {
		var fs unix.Statfs_t
		if unix.Statfs(base, &fs) != nil || fs.Type == unix.TMPFS_MAGIC {
			continue
		}
		dir, err := os.MkdirTemp(base, "rundir-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	t.Fatal("neither the temporary directory nor /var/tmp is on a disk")
	return ""
}

// mountsAt counts the mounts whose mount point is dir.
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}

func fsType(t *testing.T, dir string) int64 {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return fs.Type
}

func TestMountRunDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts")
	}
	log := slog.New(slog.DiscardHandler)

	t.Run("an empty directory on a disk becomes a tmpfs, once", func(t *testing.T) {
		dir := filepath.Join(diskDir(t), "run")
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		for range 2 { // an agent started again finds its tmpfs
			if err := mountRunDir(dir, log); err != nil {
				t.Fatal(err)
			}
		}
		if got := fsType(t, dir); got != unix.TMPFS_MAGIC {
			t.Errorf("file system %#x, want tmpfs", got)
		}
		if n := mountsAt(t, dir); n != 1 {
			t.Errorf("%d mounts on %s, want 1", n, dir)
		}
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("mode %v, %v; want 0755", st.Mode(), err)
		}
	})

	t.Run("a directory in use stays on the disk", func(t *testing.T) {
		dir := diskDir(t)
		pin := filepath.Join(dir, "runtime", "sandboxes", "p1", "net")
		if err := os.MkdirAll(filepath.Dir(pin), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pin, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		before := fsType(t, dir)
		if err := mountRunDir(dir, log); err != nil {
			t.Fatal(err)
		}
		if n := mountsAt(t, dir); n != 0 {
			unix.Unmount(dir, unix.MNT_DETACH)
			t.Fatalf("a tmpfs hides a run directory in use (%d mounts)", n)
		}
		if fsType(t, dir) != before {
			t.Error("file system changed")
		}
		if _, err := os.Stat(pin); err != nil {
			t.Errorf("what the directory held: %v", err)
		}
	})
}
