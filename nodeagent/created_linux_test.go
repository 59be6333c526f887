package nodeagent_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
)

// A container created but never started (the agent stopped between Create
// and Start) must be started by the next agent, not taken for running.
func TestCreatedContainerIsStarted(t *testing.T) {
	h := newHarness(t)
	p := h.create(h.pod("half", "exec sleep 1000"))
	running := h.waitPod("half", "running", phase("Running"))
	id0 := container(running).ContainerId
	h.stopAgent()

	rt, err := runtime.New(runtime.Config{StateDir: filepath.Join(h.cfg.DataDir, "runtime"), RunDir: filepath.Join(h.cfg.RunDir, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	var cfg struct{ Spec runtime.ContainerSpec }
	data, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "runtime", "containers", id0, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := rt.Stop(h.ctx(), id0, syscall.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
	spec := cfg.Spec
	spec.Attempt = 1
	spec.ID = runtime.ContainerID(spec.SandboxID, spec.Name, spec.Attempt)
	if _, err := rt.Create(h.ctx(), spec); err != nil {
		t.Fatal(err)
	}
	h.startAgent()

	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := rt.State(spec.ID)
		if err == nil && st.Status == runtime.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s of pod %s not started within 60s: %+v %v", spec.ID, p.Metadata.Name, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
