package teardown

import (
	"context"
	"os"
	"testing"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
)

// A node whose runtime never ran has no sandboxes, and tearing it down
// makes none of the runtime's directories; once the runtime made them,
// its (empty) state is read through the runtime.
func TestNodeRuntimeStateThroughTheRuntime(t *testing.T) {
	n := Node{DataDir: t.TempDir(), RunDir: t.TempDir(), SkipNetwork: true}
	if ids, err := n.SandboxIDs(); ids != nil || err != nil {
		t.Fatalf("a node without runtime state: %v %v", ids, err)
	}
	if err := n.removeContainers(context.Background(), func(what string) { t.Errorf("reported %q", what) }); err != nil {
		t.Fatal(err)
	}
	cfg := n.runtimeConfig()
	for _, d := range []string{cfg.StateDir, cfg.RunDir} {
		if _, err := os.Stat(d); err == nil {
			t.Fatalf("tearing down made %s", d)
		}
	}
	if runtime.HasState(cfg) {
		t.Fatal("HasState before the runtime ran")
	}
	rt, err := runtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt.Close()
	if !runtime.HasState(cfg) {
		t.Fatalf("HasState false after the runtime made %s", cfg.StateDir)
	}
	if ids, err := n.SandboxIDs(); len(ids) != 0 || err != nil {
		t.Fatalf("an empty runtime: %v %v", ids, err)
	}
}
