package shim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	built     []byte
	buildErr  error
)

// shimBytes is cmd/skiff-shim built for this test run.
func shimBytes(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-shim-test-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, Name)
		if msg, err := exec.Command("go", "build", "-tags", "seccomp_prebuilt", "-o", out, "../../cmd/skiff-shim").CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("go build: %s", msg)
			return
		}
		built, buildErr = os.ReadFile(out)
	})
	if buildErr != nil {
		t.Fatalf("build skiff-shim: %v", buildErr)
	}
	return built
}

func TestEmbeddedShimIsInstalledCheckedAndRefreshed(t *testing.T) {
	content := shimBytes(t)
	dir := filepath.Join(t.TempDir(), "shim")
	exe := filepath.Join(t.TempDir(), "skiff")
	// A version from an earlier binary is replaced.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, Name+"-0123456789abcdef")
	if err := os.WriteFile(stale, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	path, source, err := locate(dir, exe, content)
	if err != nil || source != SourceEmbedded || filepath.Dir(path) != dir {
		t.Fatalf("locate: %s from %s, %v", path, source, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("the stale shim is still there: %v", err)
	}
	assertInstalled(t, path, content)

	// Altered (or truncated by a crash) in place: written again, same name.
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho skiff-shim/1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	again, source, err := locate(dir, exe, content)
	if err != nil || again != path || source != SourceEmbedded {
		t.Fatalf("locate after tampering: %s from %s, %v", again, source, err)
	}
	assertInstalled(t, path, content)

	// Another build's shim gets another name.
	other := append(bytes.Clone(content), 0)
	if p, err := Install(dir, other); err != nil || p == path {
		t.Fatalf("install of other bytes: %s, %v", p, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the previous version was kept: %v", err)
	}
}

func assertInstalled(t *testing.T, path string, content []byte) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("%s has mode %v", path, st.Mode())
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
		t.Errorf("%s holds %d bytes, not the shim's %d", path, len(got), len(content))
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Errorf("shim dir has mode %v, want 0700 (root runs what is there)", dst.Mode())
	}
}

func TestSiblingShimIsUsedWhenNoneIsEmbedded(t *testing.T) {
	bin := t.TempDir()
	exe := filepath.Join(bin, "skiff")
	if err := os.WriteFile(filepath.Join(bin, Name), shimBytes(t), 0o755); err != nil {
		t.Fatal(err)
	}
	path, source, err := locate(filepath.Join(t.TempDir(), "shim"), exe, nil)
	if err != nil || source != SourceSibling || path != filepath.Join(bin, Name) {
		t.Fatalf("locate: %s from %s, %v", path, source, err)
	}
}

func TestAStaleSiblingIsPassedOverForTheBinaryItself(t *testing.T) {
	bin := t.TempDir()
	exe := filepath.Join(bin, "skiff")
	if err := os.WriteFile(filepath.Join(bin, Name), []byte("#!/bin/sh\necho skiff-shim/0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path, source, err := locate(filepath.Join(t.TempDir(), "shim"), exe, nil)
	if path != exe || source != SourceSelf || err == nil || !strings.Contains(err.Error(), "skiff-shim/0") {
		t.Fatalf("locate: %s from %s, %v", path, source, err)
	}
	// No sibling at all: the binary itself, and nothing to complain about.
	path, source, err = locate(filepath.Join(t.TempDir(), "shim"), filepath.Join(t.TempDir(), "skiff"), nil)
	if err != nil || source != SourceSelf {
		t.Fatalf("locate without a shim: %s from %s, %v", path, source, err)
	}
}
