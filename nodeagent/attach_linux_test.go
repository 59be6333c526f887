package nodeagent_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A shell with stdin: true keeps running until a client attaches, feeds
// it and reads its output; the last message carries its exit code.
func TestAttachThroughPodIO(t *testing.T) {
	h := newHarness(t)
	shell := h.pod("ish", "")
	shell.Spec.RestartPolicy = "Never"
	shell.Spec.Containers[0].Command = []string{"sh"}
	shell.Spec.Containers[0].Stdin = true
	h.create(shell)
	ttyOnly := h.pod("ttyonly", "exec sleep 1000")
	ttyOnly.Spec.Containers[0].Tty = true
	h.create(ttyOnly)
	h.create(h.pod("plain", "exec sleep 1000"))
	term := h.pod("term", "")
	term.Spec.RestartPolicy = "Never"
	term.Spec.Containers[0].Command = []string{"sh"}
	term.Spec.Containers[0].Stdin, term.Spec.Containers[0].Tty = true, true
	h.create(term)
	for _, name := range []string{"ish", "ttyonly", "plain", "term"} {
		h.waitPod(name, "running", phase("Running"))
	}

	refusals := []struct {
		start *skiffv1.ExecInput
		code  codes.Code
		want  string
	}{
		{&skiffv1.ExecInput{Stdin: []byte("x")}, codes.InvalidArgument, "first message must carry attach"},
		{&skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Pod: "plain", Stdin: true}}, codes.FailedPrecondition, "neither stdin: true nor tty: true"},
		{&skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Pod: "ish", Tty: true}}, codes.FailedPrecondition, "container main was not started with tty: true"},
		{&skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Pod: "ttyonly", Stdin: true}}, codes.FailedPrecondition, "container main was not started with stdin: true"},
		{&skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Pod: "nosuch"}}, codes.NotFound, "not found"},
	}
	for _, r := range refusals {
		stream, err := h.podIO().Attach(h.ctx())
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(r.start); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		if status.Code(err) != r.code || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%v: got %v, want %s with %q", r.start, err, r.code, r.want)
		}
	}

	out, code := attachSession(t, h, &skiffv1.AttachStart{Namespace: "default", Pod: "ish", Stdin: true}, "echo hi-$((40+2)); exit 4\n")
	if out != "hi-42\n" || code != 4 {
		t.Errorf("output %q, exit code %d; want hi-42 and 4", out, code)
	}
	p := h.waitPod("ish", "failed", phase("Failed"))
	if term := container(p).GetState().GetTerminated(); term.GetExitCode() != 4 {
		t.Errorf("terminated state %v, want exit code 4", term)
	}
	// A terminal of the size the client gave.
	out, code = attachSession(t, h, &skiffv1.AttachStart{Pod: "term", Stdin: true, Tty: true, Size: &skiffv1.TerminalSize{Width: 91, Height: 31}},
		"[ -t 0 ] && echo tty-$((6*7)); stty size; exit\n")
	if !strings.Contains(out, "tty-42") || !strings.Contains(out, "31 91") || code != 0 {
		t.Errorf("terminal session: output %q, exit code %d", out, code)
	}
}

// attachSession attaches with start, sends input and returns the output
// and the exit code of the container, which must end.
func attachSession(t *testing.T, h *harness, start *skiffv1.AttachStart, input string) (string, int32) {
	t.Helper()
	stream, err := h.podIO().Attach(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&skiffv1.ExecInput{Attach: start}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&skiffv1.ExecInput{Stdin: []byte(input)}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %q: %v", out.String(), err)
		}
		out.Write(m.Stdout)
		if m.ExitCode != nil {
			return out.String(), *m.ExitCode
		}
	}
}
