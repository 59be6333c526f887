package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

// starterArg makes the test binary a short-lived "agent" that starts one
// container, says so, and waits to be killed.
const starterArg = "__skiff-test-starter"

func runStarter(args []string) int {
	var cfg Config
	var spec ContainerSpec
	if err := json.Unmarshal([]byte(args[0]), &cfg); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := json.Unmarshal([]byte(args[1]), &spec); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	r, err := New(cfg)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	ctx := context.Background()
	if _, err := r.Create(ctx, spec); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := r.Start(ctx, spec.ID); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("started")
	time.Sleep(time.Hour)
	return 0
}

func TestContainerSurvivesItsStarterAndIsReadopted(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	cfg, _ := json.Marshal(Config{StateDir: r.cfg.StateDir, RunDir: r.cfg.RunDir, Cgroups: r.cfg.Cgroups})
	spec, _ := json.Marshal(shSpec("adopted", []string{layer}, "trap 'echo bye; exit 7' TERM; echo hi; while :; do sleep 0.1; done"))
	exe, _ := os.Executable()
	cmd := exec.Command(exe, starterArg, string(cfg), string(spec))
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "started" {
		t.Fatalf("starter: %q", line)
	}
	// The agent dies hard; its supervisor must not care.
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	time.Sleep(100 * time.Millisecond)

	r2, err := New(Config{StateDir: r.cfg.StateDir, RunDir: r.cfg.RunDir, Cgroups: r.cfg.Cgroups, CgroupMode: cgroups.ModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := r2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].ID != "adopted" || sts[0].Status != StatusRunning || sts[0].Pid == 0 {
		t.Fatalf("list after restart: %+v", sts)
	}
	if err := syscall.Kill(sts[0].Pid, 0); err != nil {
		t.Fatalf("container process gone: %v", err)
	}
	var out strings.Builder
	if code, err := r2.Exec(bgCtx(t), "adopted", ExecSpec{Command: []string{"echo", "still-here"}, Stdout: &out}); err != nil || code != 0 {
		t.Fatalf("exec after restart: %d %v", code, err)
	}
	waitLog(t, r2, "adopted", "hi\n") // past its trap: PID 1 ignores a TERM it has no handler for
	if err := r2.Stop(bgCtx(t), "adopted", syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := r2.State("adopted")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusExited || st.ExitCode != 7 {
		t.Errorf("state %+v", st)
	}
	if logs := logText(t, st.LogPath); !strings.Contains(logs, "hi\n") || !strings.Contains(logs, "bye\n") {
		t.Errorf("log:\n%s", logs)
	}
}
