package qemu

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Initramfs is the guest's root file system, written in the kernel's
// "newc" cpio format (what `cpio -H newc` makes; no compression).
type Initramfs struct {
	files map[string]entry // guest path (absolute) → content
}

type entry struct {
	mode   uint32 // permission bits plus the file type (sIFREG…)
	source string // a host file to copy, for regular files
	data   []byte // inline content, for regular files without source
	target string // for symlinks
}

const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
)

// NewInitramfs returns an image with the directories every guest mounts on.
func NewInitramfs() *Initramfs {
	im := &Initramfs{files: map[string]entry{}}
	for _, d := range []string{"/bin", "/dev", "/proc", "/sys", "/tmp", "/run", "/root", "/newroot", "/lib/modules"} {
		im.Dir(d)
	}
	return im
}

// Dir adds a directory (and its parents).
func (im *Initramfs) Dir(p string) {
	for p = path.Clean(p); p != "/" && p != "."; p = path.Dir(p) {
		if _, ok := im.files[p]; !ok {
			im.files[p] = entry{mode: sIFDIR | 0o755}
		}
	}
}

// File adds a copy of the host file source at p with permission bits perm.
func (im *Initramfs) File(p, source string, perm os.FileMode) {
	im.Dir(path.Dir(p))
	im.files[path.Clean(p)] = entry{mode: sIFREG | uint32(perm.Perm()), source: source}
}

// Data adds a file with the given content.
func (im *Initramfs) Data(p string, data []byte, perm os.FileMode) {
	im.Dir(path.Dir(p))
	im.files[path.Clean(p)] = entry{mode: sIFREG | uint32(perm.Perm()), data: data}
}

// Symlink adds p pointing at target.
func (im *Initramfs) Symlink(p, target string) {
	im.Dir(path.Dir(p))
	im.files[path.Clean(p)] = entry{mode: sIFLNK | 0o777, target: target}
}

// Busybox adds the static busybox at /bin/busybox and a link for each of
// its applets.
func (im *Initramfs) Busybox(bin string, applets []string) {
	im.File("/bin/busybox", bin, 0o755)
	for _, a := range applets {
		if a != "busybox" {
			im.Symlink("/bin/"+a, "busybox")
		}
	}
}

// Write writes the archive to file.
func (im *Initramfs) Write(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = im.write(w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (im *Initramfs) write(w io.Writer) error {
	names := make([]string, 0, len(im.files))
	for p := range im.files {
		names = append(names, p)
	}
	// Parents sort before their children.
	sort.Strings(names)
	ino := uint32(1)
	for _, p := range names {
		e := im.files[p]
		var body []byte
		switch e.mode &^ 0o7777 {
		case sIFREG:
			body = e.data
			if e.source != "" {
				b, err := os.ReadFile(e.source)
				if err != nil {
					return fmt.Errorf("qemu: initramfs %s: %w", p, err)
				}
				body = b
			}
		case sIFLNK:
			body = []byte(e.target)
		}
		if err := writeEntry(w, strings.TrimPrefix(p, "/"), ino, e.mode, body); err != nil {
			return err
		}
		ino++
	}
	return writeEntry(w, "TRAILER!!!", 0, 0, nil)
}

// writeEntry writes one newc header, the name and the body, each padded to
// four bytes.
func writeEntry(w io.Writer, name string, ino, mode uint32, body []byte) error {
	nlink := uint32(1)
	if mode&^0o7777 == sIFDIR {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(body), 0, 0, 0, 0, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+8)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if n := len(body) % 4; n != 0 {
		if _, err := w.Write(make([]byte, 4-n)); err != nil {
			return err
		}
	}
	return nil
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
