package runtime

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// startSleeper starts a container that runs until it is stopped.
func startSleeper(t *testing.T, r *Runtime, id string, layers []string) {
	t.Helper()
	spec := shSpec(id, layers, "echo up; exec sleep 1000")
	spec.Env = []string{"FROM_SPEC=yes"}
	spec.WorkingDir = "/etc"
	if _, err := r.Create(bgCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(bgCtx(t), id); err != nil {
		t.Fatal(err)
	}
}

func TestExecExitCodeAndStreams(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	startSleeper(t, r, "ex", []string{layer})
	var out, errb bytes.Buffer
	code, err := r.Exec(bgCtx(t), "ex", ExecSpec{
		Command: []string{"sh", "-c", "cat; echo to-stderr >&2; tr '\\0' ' ' < /proc/1/cmdline | grep -c 100[0]; grep Seccomp: /proc/self/status; echo $FROM_SPEC $(pwd); exit 3"},
		Stdin:   strings.NewReader("from-stdin\n"),
		Stdout:  &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Errorf("exit code %d", code)
	}
	// Same PID namespace (PID 1 is the container's own process, whether or
	// not its shell has exec'd sleep 1000 yet: 100[0] matches 1000 there
	// but not this script's text), same lockdown.
	if o := out.String(); !strings.Contains(o, "from-stdin\n1\n") || !strings.Contains(o, "Seccomp:\t2") || !strings.Contains(o, "yes /etc") {
		t.Errorf("stdout %q", o)
	}
	if errb.String() != "to-stderr\n" {
		t.Errorf("stderr %q", errb.String())
	}
	if _, err := r.Exec(bgCtx(t), "ex", ExecSpec{Command: []string{"/no/such"}}); err == nil {
		t.Error("exec of a missing binary succeeded")
	}
}

func TestExecWithPTY(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	startSleeper(t, r, "tty", []string{layer})
	var out bytes.Buffer
	code, err := r.Exec(bgCtx(t), "tty", ExecSpec{
		Command: []string{"sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo isatty; stty size"},
		TTY:     true,
		Size:    WindowSize{Rows: 33, Cols: 99},
		Stdout:  &out,
	})
	if err != nil || code != 0 {
		t.Fatalf("code %d, err %v, out %q", code, err, out.String())
	}
	if o := out.String(); !strings.Contains(o, "isatty") || !strings.Contains(o, "33 99") {
		t.Errorf("output %q", o)
	}
}

func TestExecContextCancelKills(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	startSleeper(t, r, "exk", []string{layer})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := r.Exec(ctx, "exk", ExecSpec{Command: []string{"sleep", "100000"}})
		done <- result{code, err}
	}()
	// Uncancelled, the exec would sleep for a day.
	select {
	case res := <-done:
		if res.err == nil || res.code != 137 {
			t.Errorf("code %d err %v, want 137 and an error", res.code, res.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the exec outlived its cancelled context by a minute")
	}
}
