package qemu

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// libDirs are where the dynamic loader of a Debian amd64 host finds
// shared libraries.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// Program adds the executable host at p and, when it is dynamically
// linked (a Go binary built with cgo), its loader and the shared
// libraries it needs, at the host's paths: the guest has no C library of
// its own.
func (im *Initramfs) Program(p, host string) error {
	im.File(p, host, 0o755)
	return im.libraries(host, map[string]bool{})
}

func (im *Initramfs) libraries(file string, seen map[string]bool) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("qemu: %s: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return fmt.Errorf("qemu: %s: loader: %w", file, err)
		}
		interp := string(b[:len(b)-1]) // NUL-terminated
		if !seen[interp] {
			seen[interp] = true
			im.File(interp, interp, 0o755)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("qemu: %s: %w", file, err)
	}
	for _, lib := range libs {
		if seen[lib] {
			continue
		}
		seen[lib] = true
		path := ""
		for _, d := range libDirs {
			if _, err := os.Stat(filepath.Join(d, lib)); err == nil {
				path = filepath.Join(d, lib)
				break
			}
		}
		if path == "" {
			return fmt.Errorf("qemu: %s needs %s, found in none of %v", file, lib, libDirs)
		}
		im.File(path, path, 0o755)
		if err := im.libraries(path, seen); err != nil {
			return err
		}
	}
	return nil
}
