package image_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

// entryTypes are the tar types a fuzz script picks from by its first byte.
var entryTypes = map[byte]byte{
	'f': tar.TypeReg, 'd': tar.TypeDir, 's': tar.TypeSymlink, 'h': tar.TypeLink,
	'c': tar.TypeChar, 'b': tar.TypeBlock, 'p': tar.TypeFifo, 'g': tar.TypeXGlobalHeader,
}

// scriptTar builds a layer from a script of one entry per line: a type
// letter (entryTypes), the name, and for links " -> " and the target. Modes
// come two bytes an entry from modes.
func scriptTar(script string, modes []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, line := range strings.Split(script, "\n") {
		if line == "" {
			continue
		}
		typ, ok := entryTypes[line[0]]
		if !ok {
			typ = tar.TypeReg
		}
		name, link, _ := strings.Cut(line[1:], " -> ")
		hdr := &tar.Header{Name: name, Linkname: link, Typeflag: typ, Mode: 0o644, Format: tar.FormatPAX}
		if len(modes) >= 2*i+2 {
			hdr.Mode = (int64(modes[2*i])<<8 | int64(modes[2*i+1])) & 0o7777
		}
		body := []byte(name)
		if typ == tar.TypeReg {
			hdr.Size = int64(len(body))
		}
		if tw.WriteHeader(hdr) != nil {
			return nil // a header tar cannot even write
		}
		if hdr.Size > 0 {
			tw.Write(body)
		}
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzUnpack unpacks fuzzed layers into a directory that sits next to a
// sentinel file and a sentinel directory. Whatever the layer holds
// (names with "..", whiteouts like ".wh...", hard links, symlinks, odd
// modes), unpacking may refuse it but never panics and never touches
// anything outside its root: the parent holds exactly what it held, the
// sentinels are unchanged and nothing inside links to them.
func FuzzUnpack(f *testing.F) {
	for _, s := range []string{
		"d./\ndbin/\nfbin/tool\nsbin/sh -> /bin/tool\nhbin/alias -> bin/tool\nslib/x/y -> ../../bin/tool\ncnull\npfifo\n",
		"fgone\nddir/\nfdir/.wh..wh..opq\nfdir/new\nf.wh.gone\nfsub/.wh..wh.plnk\n",
		"f.wh...\n", "fa/.wh...\n", "f.wh..\n", "fa/.wh.\n", "f.wh..wh..opq\n",
		"fa/../../evil\n", "f/etc/evil\n", "sa/link -> ../../../etc/shadow\n",
		"setc -> /etc\nfetc/evil\n", "sup -> .\nfup/x\n", "s.. -> /\nf../x\n",
		"hh -> ../sentinel\n", "hh -> /etc/passwd\n", "ss -> /etc\nhh -> s/passwd\n",
		"ss -> ..\nhh -> s/sentinel\n", "ss -> ..\nds/\nfs/x\n", "d.\nf.\n", "s. -> ..\n",
		"cdev/mem\nbdev/sda\n", "fa\nda/\nfa/b\nsa -> b\nfa\n", "g\nfx\n",
	} {
		f.Add(s, []byte{0x0f, 0xff, 0x01, 0xa4, 0, 0}) // 07777, 0644, 0
	}
	f.Fuzz(func(t *testing.T, script string, modes []byte) {
		layer := scriptTar(script, modes)
		if layer == nil {
			return
		}
		parent := t.TempDir()
		t.Cleanup(func() { makeRemovable(parent) })
		sentinel := filepath.Join(parent, "sentinel")
		outside := filepath.Join(parent, "outside")
		root := filepath.Join(parent, "layer")
		for _, d := range []string{outside, root} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{sentinel, filepath.Join(outside, "file")} {
			if err := os.WriteFile(p, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot(t, parent, root)

		image.Unpack(bytes.NewReader(layer), root) // refusing is fine; escaping is not

		if after := snapshot(t, parent, root); after != before {
			t.Fatalf("unpacking\n%q\nchanged what is outside its root:\nbefore %s\nafter  %s", script, before, after)
		}
		fi, err := os.Lstat(root)
		if err != nil || !fi.IsDir() {
			t.Fatalf("unpacking\n%q\nreplaced its root: %v %v", script, fi, err)
		}
	})
}

// snapshot describes everything under parent except inside root: names,
// types, modes, link counts (a hard link made inside root would raise
// one), and file contents.
func snapshot(t *testing.T, parent, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			b.WriteString("layer/ ")
			return fs.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(parent, p)
		fmt.Fprintf(&b, "%s %v nlink=%d", rel, fi.Mode(), st.Nlink)
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		b.WriteString("; ")
		return nil
	})
	if err != nil {
		b.WriteString("walk: " + err.Error())
	}
	return b.String()
}

// makeRemovable opens up directories a layer made read-only, so the
// test's cleanup can delete them without root too.
func makeRemovable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}
