package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A daemon counts as running from the moment start returns. Right after
// execve the kernel reports an empty command line for a moment; pid took
// that for a daemon that had exited, and `cluster create` failed so.
func TestDaemonRunsRightAfterStart(t *testing.T) {
	tail, err := exec.LookPath("tail")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		d := daemon{node: "n", role: "agent", dir: t.TempDir()}
		file := filepath.Join(d.dir, "followed")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := writeEnvFile(d.envFile(), []string{"-f", file}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.start(tail); err != nil {
			t.Fatal(err)
		}
		_, running := d.pid()
		data, err := os.ReadFile(d.pidFile())
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		syscall.Kill(pid, syscall.SIGKILL) // our child, by the PID start gave
		syscall.Wait4(pid, nil, 0, nil)
		if !running {
			t.Fatalf("start %d: the daemon is not running right after start", i)
		}
	}
}
