package qemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The archive is what the kernel unpacks: busybox's cpio reads it back
// with every entry, type and content.
func TestInitramfsReadsBackWithCpio(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox (make deps)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("from the host\n"), 0o644)
	im := &Initramfs{files: map[string]entry{}}
	im.File("/pkg/a/file", src, 0o755)
	im.Data("/init", []byte("#!/bin/sh\n"), 0o755)
	im.Data("/odd", []byte("abc"), 0o600) // a size not a multiple of 4
	im.Symlink("/bin/sh", "busybox")
	archive := filepath.Join(dir, "initramfs.cpio")
	if err := im.Write(archive); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	cmd := exec.Command("sh", "-c", "busybox cpio -i -d < "+archive)
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox cpio -i: %v\n%s", err, b)
	}
	for path, want := range map[string]string{"pkg/a/file": "from the host\n", "init": "#!/bin/sh\n", "odd": "abc"} {
		if b, err := os.ReadFile(filepath.Join(out, path)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "pkg/a/file")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("pkg/a/file mode: %v %v", st, err)
	}
	if target, err := os.Readlink(filepath.Join(out, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
}
