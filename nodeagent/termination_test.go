package nodeagent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Only a container's two newest instances keep their termination-log
// files (a status shows an instance and the one before); other
// containers' files stay, a name with dashes included.
func TestPruneTerminationLogsKeepsTheTwoNewest(t *testing.T) {
	a := &Agent{cfg: Config{RunDir: t.TempDir()}}
	dir := a.terminationDir("uid")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-0", "web-1", "web-2", "web-3", "web-1-0", "web-1-1", "main-0"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	a.pruneTerminationLogs("uid", "web", 4)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{"main-0", "web-1-0", "web-1-1", "web-3"}; !slices.Equal(left, want) {
		t.Fatalf("left %v, want %v", left, want)
	}
}
