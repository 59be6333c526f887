package image

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh." // aufs bookkeeping, never content
	whiteoutOpaque = ".wh..wh..opq"
	blockSize      = 4096
)

// UnpackResult describes an unpacked layer.
type UnpackResult struct {
	DiffID v1.Hash // sha256 of the uncompressed tar, to check against the config
	Size   int64   // approximate bytes on disk
}

// Unpack extracts a layer tar (plain, gzip or zstd) into dir, which must
// exist and be empty, in the form overlayfs wants for a lowerdir: OCI
// whiteouts become 0/0 character devices and opaque markers become the
// trusted.overlay.opaque xattr. It refuses entries that would write outside
// dir, links leaving the layer and device nodes, naming the entry.
func Unpack(r io.Reader, dir string) (UnpackResult, error) {
	zr, err := decompress(r)
	if err != nil {
		return UnpackResult{}, fmt.Errorf("unpack: %w", err)
	}
	defer zr.Close()
	h := sha256.New()
	tee := io.TeeReader(zr, h)
	u := &unpacker{
		root:  dir,
		dirs:  map[string]bool{".": true},
		chown: os.Geteuid() == 0,
		buf:   make([]byte, 1<<20),
	}
	tr := tar.NewReader(tee)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return UnpackResult{}, fmt.Errorf("unpack: read tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return UnpackResult{}, fmt.Errorf("unpack: %w", err)
		}
	}
	// The digest covers the whole stream, trailing padding included.
	if _, err := io.CopyBuffer(io.Discard, tee, u.buf); err != nil {
		return UnpackResult{}, fmt.Errorf("unpack: read tar: %w", err)
	}
	if err := u.finish(); err != nil {
		return UnpackResult{}, fmt.Errorf("unpack: %w", err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
	return UnpackResult{DiffID: diffID, Size: u.size}, nil
}

type dirTime struct {
	rel   string
	mtime time.Time
}

type unpacker struct {
	root     string
	dirs     map[string]bool // relative paths known to be real directories
	dirTimes []dirTime       // applied last: creating children bumps mtimes
	chown    bool
	size     int64
	buf      []byte
}

func (u *unpacker) full(rel string) string { return filepath.Join(u.root, filepath.FromSlash(rel)) }

// cleanName turns a tar name into a path relative to the layer root, or
// refuses it.
func cleanName(entry, name, what string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", &UnsafeEntryError{Entry: entry, Reason: what + " is an absolute path"}
	}
	parts := make([]string, 0, 8)
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", &UnsafeEntryError{Entry: entry, Reason: what + " climbs out with \"..\""}
		default:
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanName(hdr.Name, hdr.Name, "path")
	if err != nil {
		return err
	}
	base, parent := path.Base(rel), path.Dir(rel)
	switch {
	case base == whiteoutOpaque:
		if err := u.mkdirAll(hdr.Name, parent); err != nil {
			return err
		}
		return setOpaque(u.full(parent))
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		// The rest names one entry of the same directory. ".wh..." would
		// name the parent directory and ".wh.." or ".wh." the directory
		// itself: at the top of the layer, deleting what holds the layer.
		hidden := base[len(whiteoutPrefix):]
		if hidden == "" || hidden == "." || hidden == ".." {
			return &UnsafeEntryError{Entry: hdr.Name, Reason: fmt.Sprintf("whiteout %q names no entry of its directory", base)}
		}
		target := path.Join(parent, hidden)
		if err := u.prepare(hdr.Name, target, false); err != nil {
			return err
		}
		return mknodWhiteout(u.full(target))
	}
	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return &UnsafeEntryError{Entry: hdr.Name, Reason: "replaces the layer root"}
		}
		return u.attrs(hdr, rel)
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := u.prepare(hdr.Name, rel, true); err != nil {
			return err
		}
		if err := os.Mkdir(u.full(rel), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		u.dirs[rel] = true
		u.size += blockSize
	case tar.TypeReg:
		if err := u.prepare(hdr.Name, rel, false); err != nil {
			return err
		}
		if err := u.writeFile(hdr, rel, r); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := checkSymlink(hdr, rel); err != nil {
			return err
		}
		if err := u.prepare(hdr.Name, rel, false); err != nil {
			return err
		}
		if err := os.Symlink(hdr.Linkname, u.full(rel)); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	case tar.TypeLink:
		target, err := cleanName(hdr.Name, hdr.Linkname, "hard link target")
		if err != nil {
			return err
		}
		if err := u.checkParents(hdr.Name, target); err != nil {
			return err
		}
		fi, err := os.Lstat(u.full(target))
		if err != nil {
			return &UnsafeEntryError{Entry: hdr.Name, Reason: fmt.Sprintf("hard link target %q is not in this layer", hdr.Linkname)}
		}
		if fi.IsDir() {
			return &UnsafeEntryError{Entry: hdr.Name, Reason: fmt.Sprintf("hard link target %q is a directory", hdr.Linkname)}
		}
		if err := u.prepare(hdr.Name, rel, false); err != nil {
			return err
		}
		if err := os.Link(u.full(target), u.full(rel)); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		return nil // a hard link shares the target's inode and attributes
	case tar.TypeChar, tar.TypeBlock:
		if hdr.Typeflag != tar.TypeChar || hdr.Devmajor != 0 || hdr.Devminor != 0 {
			return &UnsafeEntryError{Entry: hdr.Name, Reason: fmt.Sprintf("device node %d:%d", hdr.Devmajor, hdr.Devminor)}
		}
		// Already an overlay whiteout (a layer made from an overlay upperdir).
		if err := u.prepare(hdr.Name, rel, false); err != nil {
			return err
		}
		return mknodWhiteout(u.full(rel))
	case tar.TypeFifo:
		if err := u.prepare(hdr.Name, rel, false); err != nil {
			return err
		}
		if err := mkfifo(u.full(rel)); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("%s: unsupported tar entry type %q", hdr.Name, hdr.Typeflag)
	}
	return u.attrs(hdr, rel)
}

// checkSymlink refuses relative targets that climb above the layer root.
// Absolute targets are fine: they resolve inside the container's root, and
// unpacking never follows a symlink.
func checkSymlink(hdr *tar.Header, rel string) error {
	t := hdr.Linkname
	if t == "" {
		return &UnsafeEntryError{Entry: hdr.Name, Reason: "symlink with an empty target"}
	}
	if strings.HasPrefix(t, "/") {
		return nil
	}
	j := path.Join(path.Dir(rel), t)
	if j == ".." || strings.HasPrefix(j, "../") {
		return &UnsafeEntryError{Entry: hdr.Name, Reason: fmt.Sprintf("symlink target %q leaves the layer", t)}
	}
	return nil
}

func (u *unpacker) writeFile(hdr *tar.Header, rel string, r io.Reader) error {
	f, err := os.OpenFile(u.full(rel), os.O_CREATE|os.O_EXCL|os.O_WRONLY|noFollow, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	n, err := io.CopyBuffer(f, r, u.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	u.size += (n + blockSize - 1) / blockSize * blockSize
	return nil
}

// prepare makes the parents of rel real directories and clears whatever
// sits at rel, unless it is a directory and a directory is wanted (tar
// semantics: a later entry replaces an earlier one).
func (u *unpacker) prepare(entry, rel string, wantDir bool) error {
	if err := u.mkdirAll(entry, path.Dir(rel)); err != nil {
		return err
	}
	fi, err := os.Lstat(u.full(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", entry, err)
	}
	if fi.IsDir() && wantDir {
		return nil
	}
	if fi.IsDir() {
		u.forgetDirs(rel)
	}
	if err := os.RemoveAll(u.full(rel)); err != nil {
		return fmt.Errorf("%s: %w", entry, err)
	}
	return nil
}

// mkdirAll creates rel and its parents as real directories. It refuses to
// go through a symlink: that is how a layer would write outside itself.
func (u *unpacker) mkdirAll(entry, rel string) error {
	if u.dirs[rel] {
		return nil
	}
	if err := u.mkdirAll(entry, path.Dir(rel)); err != nil {
		return err
	}
	p := u.full(rel)
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("%s: %w", entry, err)
		}
		u.size += blockSize
	case err != nil:
		return fmt.Errorf("%s: %w", entry, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return &UnsafeEntryError{Entry: entry, Reason: fmt.Sprintf("goes through symlink %q", rel)}
	case !fi.IsDir():
		return &UnsafeEntryError{Entry: entry, Reason: fmt.Sprintf("goes through non-directory %q", rel)}
	}
	u.dirs[rel] = true
	return nil
}

// checkParents verifies, without creating anything, that rel's parents are
// real directories.
func (u *unpacker) checkParents(entry, rel string) error {
	for p := path.Dir(rel); p != "."; p = path.Dir(p) {
		if u.dirs[p] {
			continue
		}
		fi, err := os.Lstat(u.full(p))
		if err != nil {
			return &UnsafeEntryError{Entry: entry, Reason: fmt.Sprintf("hard link target %q is not in this layer", rel)}
		}
		if !fi.IsDir() {
			return &UnsafeEntryError{Entry: entry, Reason: fmt.Sprintf("hard link target goes through %q", p)}
		}
	}
	return nil
}

func (u *unpacker) forgetDirs(rel string) {
	prefix := rel + "/"
	for d := range u.dirs {
		if d == rel || strings.HasPrefix(d, prefix) {
			delete(u.dirs, d)
		}
	}
}

// attrs applies owner, mode, xattrs and times. Directories get their times
// at the end.
func (u *unpacker) attrs(hdr *tar.Header, rel string) error {
	p := u.full(rel)
	isLink := hdr.Typeflag == tar.TypeSymlink
	if u.chown {
		if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("%s: chown: %w", hdr.Name, err)
		}
	}
	if !isLink {
		// After chown, which clears setuid bits.
		mode := hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if err := os.Chmod(p, mode); err != nil {
			return fmt.Errorf("%s: chmod: %w", hdr.Name, err)
		}
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		// Overlay's own attributes come only from whiteout markers; a
		// layer must not forge opaque dirs or redirects.
		if !ok || strings.HasPrefix(attr, "trusted.overlay.") {
			continue
		}
		if err := setXattr(p, attr, v); err != nil {
			return fmt.Errorf("%s: xattr %s: %w", hdr.Name, attr, err)
		}
	}
	if hdr.Typeflag == tar.TypeDir || rel == "." {
		u.dirTimes = append(u.dirTimes, dirTime{rel: rel, mtime: hdr.ModTime})
		return nil
	}
	return setTimes(p, hdr.AccessTime, hdr.ModTime)
}

func (u *unpacker) finish() error {
	for i := len(u.dirTimes) - 1; i >= 0; i-- {
		d := u.dirTimes[i]
		if err := setTimes(u.full(d.rel), time.Time{}, d.mtime); err != nil {
			return fmt.Errorf("%s: %w", d.rel, err)
		}
	}
	return nil
}
