package proccpu

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// The test process's own ticks grow while it spins, and a window's share
// of a core comes out in percent.
func TestTicksCountBusyTime(t *testing.T) {
	before, err := Ticks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the counter moves (a loaded machine may give the test
	// little of a core); a Ticks that never moves fails at the deadline.
	deadline := time.Now().Add(30 * time.Second)
	for {
		after, err := Ticks(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after-before >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ticks after 30 s of spinning", after-before)
		}
		for i := 0; i < 1e6; i++ {
		}
	}
	if got := Percent(50, 10*time.Second); got != 5 {
		t.Errorf("Percent(50 ticks, 10 s) = %v, want 5", got)
	}
	if _, err := Ticks(-1); err == nil {
		t.Error("Ticks of a process that cannot exist: no error")
	}
}

// Children finds this process's child by its command line and not by the
// command line alone: a parent outside the set excludes it.
func TestChildrenByParentAndArgs(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "1000.5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if ppid := ParentPID(cmd.Process.Pid); ppid != os.Getpid() {
		t.Fatalf("ParentPID = %d, want %d", ppid, os.Getpid())
	}
	// Start returns once the exec is past its point of no return, which
	// is before the kernel sets the new command line up: until then the
	// child's cmdline reads empty.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)); err == nil && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child's command line stayed empty")
		}
	}
	got, err := Children(map[int]bool{os.Getpid(): true}, sleep, "1000.5")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != cmd.Process.Pid {
		t.Errorf("Children = %v, want [%d]", got, cmd.Process.Pid)
	}
	if got, _ := Children(map[int]bool{os.Getpid(): true}, sleep, "1000.6"); len(got) != 0 {
		t.Errorf("other arguments: Children = %v", got)
	}
	if got, _ := Children(map[int]bool{1: true}, sleep, "1000.5"); len(got) != 0 {
		t.Errorf("another parent: Children = %v", got)
	}
}
