package atomicwriter

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteSwapsDataLink(t *testing.T) {
	dir := t.TempDir()
	changed, err := Write(dir, map[string]File{"a": {Data: []byte("1"), Mode: 0o644}, "sub/b": {Data: []byte("2"), Mode: 0o600}})
	if err != nil || !changed {
		t.Fatalf("first write: changed %v, %v", changed, err)
	}
	first, _ := os.Readlink(filepath.Join(dir, "..data"))
	if target, _ := os.Readlink(filepath.Join(dir, "a")); target != "..data/a" {
		t.Fatalf("a links to %q, want ..data/a", target)
	}
	if st, err := os.Stat(filepath.Join(dir, "sub", "b")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sub/b: %v %v", st, err)
	}
	if changed, err := Write(dir, map[string]File{"a": {Data: []byte("1"), Mode: 0o644}, "sub/b": {Data: []byte("2"), Mode: 0o600}}); err != nil || changed {
		t.Fatalf("same payload: changed %v, %v", changed, err)
	}
	if changed, err := Write(dir, map[string]File{"a": {Data: []byte("new"), Mode: 0o644}}); err != nil || !changed {
		t.Fatalf("update: changed %v, %v", changed, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a")); string(got) != "new" {
		t.Fatalf("a = %q after update", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Fatalf("removed key still visible: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Fatalf("old version %s kept: %v", first, err)
	}
	for _, bad := range []string{"../x", "/abs", "..data", "a/../b"} {
		if _, err := Write(dir, map[string]File{bad: {}}); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}
