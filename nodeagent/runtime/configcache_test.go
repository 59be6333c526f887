package runtime

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestConfigCacheFollowsRewrites(t *testing.T) {
	dir := t.TempDir()
	var c configCache
	write := func(logPath string) {
		t.Helper()
		cfg := containerConfig{Spec: ContainerSpec{SandboxID: "sb"}, Dir: dir, LogPath: logPath, CgroupPath: "skiff/x"}
		if err := writeJSON(dir, configFile, cfg); err != nil {
			t.Fatal(err)
		}
	}
	want := func(logPath string) {
		t.Helper()
		sum, err := c.summary(dir)
		if err != nil {
			t.Fatal(err)
		}
		if sum.logPath != logPath || sum.sandboxID != "sb" || sum.cgroupPath != "skiff/x" {
			t.Fatalf("summary %+v, want log path %q", sum, logPath)
		}
	}
	write("/a.log")
	want("/a.log")
	want("/a.log")
	write("/b.log") // a new file (renamed into place), even in the same clock tick
	want("/b.log")
	if err := os.Remove(filepath.Join(dir, configFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.summary(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("summary of a removed config: %v", err)
	}
	if _, ok := c.m[dir]; ok {
		t.Fatal("a removed config stays cached")
	}
}
