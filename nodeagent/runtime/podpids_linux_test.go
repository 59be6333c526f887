package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every pod's cgroup has a pids limit even when its spec sets none, so one
// pod's fork bomb cannot take the node's PIDs.
func TestPodsHaveAPidsLimitByDefault(t *testing.T) {
	r := newTestRuntime(t)
	sb, err := r.CreateSandbox(SandboxSpec{ID: "pids-default"})
	if err != nil {
		t.Fatal(err)
	}
	cg, err := r.cgroup(sb.CgroupPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cg.Path("pids"), "pids.max"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(DefaultPodPids) {
		t.Fatalf("pod pids.max = %s, want %d", got, DefaultPodPids)
	}
}
