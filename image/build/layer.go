package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is every entry's mtime, so that building the same input twice
// gives the same digest (and the registry and nodes store it once).
func epoch() time.Time { return time.Unix(0, 0).UTC() }

// entry is one file of a layer being built: its header and, for regular
// files, where the bytes come from.
type entry struct {
	hdr  tar.Header
	src  string // host file to copy
	data []byte // or literal content
}

func dirEntry(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}}
}

func fileEntry(name string, mode int64, data []byte) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}, data: data}
}

func symlinkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

// layerFrom makes a gzip-compressed OCI layer from entries. The tar is
// regenerated each time the layer is read, so nothing large sits in
// memory or in a temp file.
func layerFrom(entries []entry) (v1.Layer, error) {
	open := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, entries)) }()
		return pr, nil
	}
	l, err := tarball.LayerFromOpener(open, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("build: layer: %w", err)
	}
	return l, nil
}

func writeTar(w io.Writer, entries []entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := e.hdr
		hdr.ModTime = epoch()
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		var err error
		if e.src != "" {
			err = copyFile(tw, e.src, hdr.Size)
		} else {
			_, err = io.Copy(tw, bytes.NewReader(e.data))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
	return tw.Close()
}

func copyFile(w io.Writer, src string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err == nil && n != size {
		err = fmt.Errorf("changed while building: %d bytes, expected %d", n, size)
	}
	return err
}

// treeEntries lists a host directory as layer entries rooted at "/",
// owned by root, in a stable order. Hard links inside the tree stay hard
// links; devices and sockets are refused.
func treeEntries(root string) ([]entry, error) {
	var out []entry
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := int64(fi.Mode().Perm())
		if fi.Mode()&fs.ModeSetuid != 0 {
			mode |= 0o4000
		}
		if fi.Mode()&fs.ModeSetgid != 0 {
			mode |= 0o2000
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			mode |= 0o1000
		}
		switch {
		case fi.IsDir():
			out = append(out, dirEntry(name, mode))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, symlinkEntry(name, target))
		case fi.Mode().IsRegular():
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				if first, seen := inodes[st.Ino]; seen {
					out = append(out, entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: first, Mode: mode}})
					return nil
				}
				inodes[st.Ino] = name
			}
			out = append(out, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size()}, src: p})
		default:
			return fmt.Errorf("%s: cannot put a %s in an image", p, fi.Mode().Type())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build: read %s: %w", root, err)
	}
	return out, nil
}

// sortEntries orders entries by name with parents before children.
func sortEntries(es []entry) {
	sort.SliceStable(es, func(i, j int) bool {
		return path.Clean(es[i].hdr.Name) < path.Clean(es[j].hdr.Name)
	})
}
