package nodeagent_test

import (
	"context"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// An exec'd command that exits without reading its stdin while the client
// keeps sending must not leave the agent's stdin goroutine blocked for good.
func TestExecUnreadStdinDoesNotLeak(t *testing.T) {
	h := newHarness(t)
	h.create(h.pod("deaf", "exec sleep 1000"))
	p := h.waitPod("deaf", "running", phase("Running"))
	ctx, cancel := context.WithCancel(h.ctx())
	defer cancel()
	stream, err := h.podIO().Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := &skiffv1.ExecStart{Namespace: "default", Pod: p.Metadata.Name, Command: []string{"sh", "-c", "exec 0</dev/null; sleep 0.2; exit 3"}, Stdin: true}
	if err := stream.Send(&skiffv1.ExecInput{Start: start}); err != nil {
		t.Fatal(err)
	}
	go func() {
		chunk := make([]byte, 32<<10)
		for i := 0; i < 64; i++ {
			if stream.Send(&skiffv1.ExecInput{Stdin: chunk}) != nil {
				return
			}
		}
	}()
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.ExitCode != nil {
			if *m.ExitCode != 3 {
				t.Fatalf("exit code %d, want 3", *m.ExitCode)
			}
			break
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:goruntime.Stack(buf, true)])
		if !strings.Contains(stacks, "nodeagent.relayInput.func") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the exec's stdin goroutine is still there 30s after the exec ended:\n%s", stacks)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
