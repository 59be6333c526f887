package image_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

func unpack(t *testing.T, layer []byte) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layer")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := image.Unpack(bytes.NewReader(layer), dir)
	return dir, err
}

func TestUnpackWhiteoutsBecomeOverlayWhiteouts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("whiteouts (mknod 0/0) and trusted.* xattrs need root")
	}
	lower := makeTar(t,
		tarEntry{name: "keep", typ: tar.TypeReg, body: "keep"},
		tarEntry{name: "gone", typ: tar.TypeReg, body: "old"},
		tarEntry{name: "dir/", typ: tar.TypeDir},
		tarEntry{name: "dir/old", typ: tar.TypeReg, body: "old"},
	)
	upper := makeTar(t,
		tarEntry{name: ".wh.gone", typ: tar.TypeReg},
		tarEntry{name: "dir/", typ: tar.TypeDir},
		tarEntry{name: "dir/.wh..wh..opq", typ: tar.TypeReg},
		tarEntry{name: "dir/new", typ: tar.TypeReg, body: "new"},
		tarEntry{name: "sub/.wh..wh.plnk", typ: tar.TypeReg}, // aufs bookkeeping: skipped
	)
	lowerDir, err := unpack(t, gzipBytes(t, lower))
	if err != nil {
		t.Fatal(err)
	}
	upperDir, err := unpack(t, zstdBytes(t, upper))
	if err != nil {
		t.Fatal(err)
	}

	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(upperDir, "gone"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("gone: mode %o rdev %d, want a 0/0 char device", st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(upperDir, ".wh.gone")); !os.IsNotExist(err) {
		t.Errorf(".wh.gone left in the layer: %v", err)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(upperDir, "dir"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("dir opaque xattr = %q, %v", buf[:n], err)
	}
	if _, err := os.Lstat(filepath.Join(upperDir, "sub", ".wh..wh.plnk")); !os.IsNotExist(err) {
		t.Errorf("aufs metadata unpacked: %v", err)
	}

	// The kernel agrees: mount them as an overlay in a private mount
	// namespace and look.
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) not installed; char devices and xattrs checked above")
	}
	merged := t.TempDir()
	script := `mount -t overlay overlay -o lowerdir="$1":"$2" "$3" && cd "$3" && ls -A . dir`
	out, err := exec.Command("unshare", "--mount", "--propagation", "private",
		"sh", "-c", script, "sh", upperDir, lowerDir, merged).CombinedOutput()
	if err != nil {
		t.Fatalf("overlay mount: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	want := []string{".:", "dir", "keep", "dir:", "new"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("merged view %q, want %q", got, want)
	}
}

func TestUnpackRefusesUnsafeEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		bad     string // the entry the error must name
	}{
		{"dotdot", []tarEntry{{name: "a/../../evil", typ: tar.TypeReg, body: "x"}}, "a/../../evil"},
		{"absolute", []tarEntry{{name: "/etc/evil", typ: tar.TypeReg, body: "x"}}, "/etc/evil"},
		{"relative symlink escaping", []tarEntry{{name: "a/link", typ: tar.TypeSymlink, linkname: "../../../etc/shadow"}}, "a/link"},
		{"write through absolute symlink", []tarEntry{
			{name: "etc", typ: tar.TypeSymlink, linkname: "/etc"},
			{name: "etc/evil", typ: tar.TypeReg, body: "x"},
		}, "etc/evil"},
		{"write through relative symlink", []tarEntry{
			{name: "up", typ: tar.TypeSymlink, linkname: "."},
			{name: "up/x", typ: tar.TypeReg, body: "x"},
		}, "up/x"},
		{"hardlink dotdot", []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "../../etc/passwd"}}, "h"},
		{"hardlink absolute", []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "/etc/passwd"}}, "h"},
		{"hardlink through symlink", []tarEntry{
			{name: "s", typ: tar.TypeSymlink, linkname: "/etc"},
			{name: "h", typ: tar.TypeLink, linkname: "s/passwd"},
		}, "h"},
		// A whiteout deletes a name in its own directory, never the
		// directory or its parent (which, at the top, hold the layer).
		{"whiteout of the parent", []tarEntry{{name: ".wh...", typ: tar.TypeReg}}, ".wh..."},
		{"whiteout of the parent below", []tarEntry{{name: "a/b/.wh...", typ: tar.TypeReg}}, "a/b/.wh..."},
		{"whiteout of itself", []tarEntry{{name: ".wh..", typ: tar.TypeReg}}, ".wh.."},
		{"whiteout of nothing", []tarEntry{{name: "a/.wh.", typ: tar.TypeReg}}, "a/.wh."},
		{"char device", []tarEntry{{name: "dev/mem", typ: tar.TypeChar, major: 1, minor: 1}}, "dev/mem"},
		{"block device", []tarEntry{{name: "dev/sda", typ: tar.TypeBlock, major: 8, minor: 0}}, "dev/sda"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := unpack(t, makeTar(t, tc.entries...))
			var ue *image.UnsafeEntryError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want an UnsafeEntryError", err)
			}
			if ue.Entry != tc.bad || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("error names %q (%v), want %q", ue.Entry, err, tc.bad)
			}
			// Nothing landed beside the layer dir.
			siblings, _ := os.ReadDir(filepath.Dir(dir))
			if len(siblings) != 1 {
				t.Errorf("unpack wrote outside the layer: %v", siblings)
			}
		})
	}
}

func TestUnpackKeepsWhatImagesNeed(t *testing.T) {
	layer := makeTar(t,
		tarEntry{name: "./", typ: tar.TypeDir},
		tarEntry{name: "bin/", typ: tar.TypeDir},
		tarEntry{name: "bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o4755},
		tarEntry{name: "bin/sh", typ: tar.TypeSymlink, linkname: "/bin/tool"}, // absolute: fine
		tarEntry{name: "bin/alias", typ: tar.TypeLink, linkname: "bin/tool"},
		tarEntry{name: "lib/x/y", typ: tar.TypeSymlink, linkname: "../../bin/tool"},
		tarEntry{name: "null", typ: tar.TypeChar}, // 0/0: already a whiteout
		tarEntry{name: "fifo", typ: tar.TypeFifo},
		tarEntry{name: "bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\necho v2\n", mode: 0o4755}, // later wins
	)
	for name, data := range map[string][]byte{"plain": layer, "gzip": gzipBytes(t, layer), "zstd": zstdBytes(t, layer)} {
		t.Run(name, func(t *testing.T) {
			dir, err := unpack(t, data)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "bin", "alias"))
			if err != nil || string(b) != "#!/bin/sh\n" {
				t.Errorf("hard link: %q %v", b, err)
			}
			fi, err := os.Stat(filepath.Join(dir, "bin", "tool"))
			if err != nil || fi.Mode()&os.ModeSetuid == 0 {
				t.Errorf("setuid lost: %v %v", fi, err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "bin", "tool")); !strings.Contains(string(b), "v2") {
				t.Errorf("later entry did not replace the earlier one: %q", b)
			}
			if l, err := os.Readlink(filepath.Join(dir, "bin", "sh")); err != nil || l != "/bin/tool" {
				t.Errorf("bin/sh -> %q %v", l, err)
			}
		})
	}
}

func TestUnpackChecksDiffIDs(t *testing.T) {
	layer := makeTar(t, tarEntry{name: "f", typ: tar.TypeReg, body: "data"})
	dir := t.TempDir()
	res, err := image.Unpack(bytes.NewReader(zstdBytes(t, layer)), dir)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := image.Unpack(bytes.NewReader(layer), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if res.DiffID != res2.DiffID {
		t.Errorf("diff ID depends on compression: %s vs %s", res.DiffID, res2.DiffID)
	}
}
