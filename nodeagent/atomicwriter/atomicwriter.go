// Package atomicwriter fills a ConfigMap or Secret volume the way the
// kubelet's atomic writer does, so a reader never sees half an update:
//
//	dir/..2026_12_01_17_21_42.1234/   the files of one version
//	dir/..data -> ..2026_12_01_…      swapped with rename(2) on update
//	dir/<name> -> ..data/<name>        what the container sees
//
// A program that opens dir/<name> gets the old or the new file, never a
// mix; one that watches dir sees ..data replaced.
package atomicwriter

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// File is one file of a volume.
type File struct {
	Data []byte
	Mode fs.FileMode
	// GID, when not 0, is the file's group (a pod's fsGroup).
	GID uint32
}

const dataLink = "..data"

// Write makes dir hold exactly payload (paths relative to dir) and
// reports whether anything changed. Paths are checked: absolute ones,
// ".." and elements starting with ".." (the writer's own names) are
// refused.
func Write(dir string, payload map[string]File) (changed bool, err error) {
	for p := range payload {
		if err := checkPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	if old != "" && same(filepath.Join(dir, old), payload) {
		return false, ensureLinks(dir, payload)
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, err
	}
	for p, f := range payload {
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(full, f.Data, f.Mode); err != nil {
			return false, err
		}
		if err := os.Chmod(full, f.Mode); err != nil { // past the umask
			return false, err
		}
		if f.GID != 0 {
			if err := os.Lchown(full, -1, int(f.GID)); err != nil {
				return false, err
			}
		}
	}
	tmp := filepath.Join(dir, dataLink+"_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}
	if err := ensureLinks(dir, payload); err != nil {
		return true, err
	}
	// Older versions go once nobody can reach them through ..data.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, "..") && n != dataLink && n != filepath.Base(ts) {
			os.RemoveAll(filepath.Join(dir, n))
		}
	}
	return true, nil
}

// ensureLinks makes a user-visible symlink through ..data for every
// top-level name of payload and removes those of names no longer there.
func ensureLinks(dir string, payload map[string]File) error {
	top := map[string]bool{}
	for p := range payload {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataLink, name) {
			continue
		}
		os.Remove(link)
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, "..") && !top[n] && e.Type()&fs.ModeSymlink != 0 {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// same reports whether the version in dir holds exactly payload.
func same(dir string, payload map[string]File) bool {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		f, ok := payload[rel]
		info, ierr := d.Info()
		if !ok || ierr != nil || info.Mode().Perm() != f.Mode.Perm() {
			return errors.New("differs")
		}
		if st, isStat := info.Sys().(*syscall.Stat_t); f.GID != 0 && (!isStat || st.Gid != f.GID) {
			return errors.New("differs")
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, f.Data) {
			return errors.New("differs")
		}
		n++
		return nil
	})
	return err == nil && n == len(payload)
}

func checkPath(p string) error {
	if p == "" || filepath.IsAbs(p) {
		return fmt.Errorf("atomicwriter: %q must be a relative path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || strings.HasPrefix(part, "..") {
			return fmt.Errorf("atomicwriter: %q: elements may not be empty, '.', or start with '..'", p)
		}
	}
	return nil
}
