// Package cptar packs and unpacks the tar streams `skiff cp` sends to and
// reads from a container's tar. Unpacking trusts nothing in the stream:
// every entry lands under the destination or is refused.
package cptar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Pack writes src (a file or a directory, recursively) to w as a tar
// whose entries are named under name instead of src's own base name.
// Symbolic links are written as links; other special files are skipped.
func Pack(w io.Writer, src, name string) error {
	tw := tar.NewWriter(w)
	root := filepath.Clean(src)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		entry := path.Join(name, filepath.ToSlash(rel))
		link := ""
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		case !info.Mode().IsRegular() && !info.IsDir():
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = entry
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Unpack reads a tar from r whose entries are all under prefix (the
// source's base name, as the container's tar wrote them) and puts each
// at the same place under dest instead: dest takes the source's name, as
// kubectl cp does. An entry outside prefix, or one that would reach out
// of dest (.., a link pointing out, a path through a link), is refused.
// warn hears of entries skipped (devices, fifos).
func Unpack(r io.Reader, prefix, dest string, warn func(string)) error {
	if warn == nil {
		warn = func(string) {}
	}
	tr := tar.NewReader(r)
	dest = filepath.Clean(dest)
	seen := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("cp: reading the container's tar: %w", err)
		}
		rel, ok := within(hdr.Name, prefix)
		if !ok {
			return fmt.Errorf("cp: refusing %q: not under %q", hdr.Name, prefix)
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		if err := noLinkOnTheWay(dest, rel); err != nil {
			return err
		}
		seen = true
		mode := hdr.FileInfo().Mode().Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return fmt.Errorf("cp: %w", err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return fmt.Errorf("cp: %w", err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("cp: %s: %w", target, err)
			}
		case tar.TypeSymlink:
			// Only a link that resolves inside dest, from where it sits.
			resolved := path.Join(path.Dir(rel), hdr.Linkname)
			if path.IsAbs(hdr.Linkname) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				warn(fmt.Sprintf("skipping symlink %s -> %s: it points outside what is copied", hdr.Name, hdr.Linkname))
				continue
			}
			os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return fmt.Errorf("cp: %w", err)
			}
		default:
			warn(fmt.Sprintf("skipping %s: not a file, directory or link", hdr.Name))
		}
	}
	if !seen {
		return fmt.Errorf("cp: %s: nothing to copy (no such file or directory?)", prefix)
	}
	return nil
}

// within is name relative to prefix ("." for prefix itself), if name is
// prefix or under it and stays there.
func within(name, prefix string) (string, bool) {
	name = strings.TrimPrefix(name, "./")
	clean := path.Clean(name)
	if clean == prefix {
		return ".", true
	}
	rel, ok := strings.CutPrefix(clean, prefix+"/")
	if !ok || rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// noLinkOnTheWay refuses a path whose parents under dest include a
// symbolic link: an entry written through one could land anywhere.
func noLinkOnTheWay(dest, rel string) error {
	cur := dest
	parts := strings.Split(path.Dir(rel), "/")
	for _, p := range parts {
		if p == "." || p == "" {
			continue
		}
		cur = filepath.Join(cur, p)
		if st, err := os.Lstat(cur); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("cp: refusing %s: %s is a symbolic link", rel, cur)
		}
	}
	return nil
}
