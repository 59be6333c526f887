// Package shim finds the small program that supervises and sets up each
// container (cmd/skiff-shim), so the node does not start the whole skiff
// binary twice per container.
//
// A binary built with `make` carries the shim inside it; the agent writes
// it once into its data directory under a name holding its content hash
// and checks that copy on every start, rewriting it when it is missing or
// altered. A plain `go build` has no shim inside: then a skiff-shim
// beside the skiff binary is used, and failing that the skiff binary
// itself, which has the same entry points.
package shim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
)

// Name is the shim's file name beside the skiff binary; installed copies
// are Name-<hash>.
const Name = "skiff-shim"

// Source says where a located shim came from.
type Source string

const (
	SourceEmbedded Source = "embedded"
	SourceSibling  Source = "beside the binary"
	SourceSelf     Source = "the skiff binary itself"
)

// Locate returns the program the runtime should start containers with:
// the embedded shim installed into dir, else a working skiff-shim beside
// exe, else exe. The error, if any, says why a better choice was passed
// over; the path returned is usable either way.
func Locate(dir, exe string) (string, Source, error) {
	return locate(dir, exe, embedded)
}

func locate(dir, exe string, embedded []byte) (string, Source, error) {
	var problems []error
	if len(embedded) > 0 {
		path, err := Install(dir, embedded)
		if err == nil {
			err = runtime.CheckShim(path)
		}
		if err == nil {
			return path, SourceEmbedded, nil
		}
		problems = append(problems, err)
	}
	sibling := filepath.Join(filepath.Dir(exe), Name)
	if _, err := os.Stat(sibling); err == nil {
		if err := runtime.CheckShim(sibling); err != nil {
			problems = append(problems, err)
		} else {
			return sibling, SourceSibling, nil
		}
	}
	return exe, SourceSelf, errors.Join(problems...)
}

// Install writes content into dir as Name-<hash> unless a copy with the
// same bytes is there, and removes other versions. Their files go, but
// supervisors started from them keep running: a running program does not
// need its file's name, and an adopted container is driven through its
// state directory, not through the shim's file.
func Install(dir string, content []byte) (string, error) {
	sum := sha256.Sum256(content)
	name := Name + "-" + hex.EncodeToString(sum[:8])
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("shim: create %s: %w", dir, err)
	}
	if !sameContent(path, content) {
		if err := writeExecutable(path, content); err != nil {
			return "", err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("shim: list %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() != name && strings.HasPrefix(e.Name(), Name+"-") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return path, nil
}

// sameContent reports whether path is a regular, executable file holding
// exactly content (the hash in its name is not trusted: it is only a
// name).
func sameContent(path string, content []byte) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o755 || st.Size() != int64(len(content)) {
		return false
	}
	got, err := os.ReadFile(path)
	return err == nil && bytes.Equal(got, content)
}

// writeExecutable replaces path atomically: a supervisor being started
// from the old file never sees a half-written one.
func writeExecutable(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+Name+"-")
	if err != nil {
		return fmt.Errorf("shim: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("shim: install %s: %w", path, err)
	}
	return nil
}
