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
	for _, name := range []string{"ish", "ttyonly", "plain"} {
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

	stream, err := h.podIO().Attach(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Namespace: "default", Pod: "ish", Stdin: true}}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&skiffv1.ExecInput{Stdin: []byte("echo hi-$((40+2)); exit 4\n")}); err != nil {
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
			if *m.ExitCode != 4 {
				t.Errorf("exit code %d, want 4", *m.ExitCode)
			}
			break
		}
	}
	if out.String() != "hi-42\n" {
		t.Errorf("output %q", out.String())
	}
	p := h.waitPod("ish", "failed", phase("Failed"))
	if term := container(p).GetState().GetTerminated(); term.GetExitCode() != 4 {
		t.Errorf("terminated state %v, want exit code 4", term)
	}
}
