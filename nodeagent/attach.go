package nodeagent

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Attach connects the client to a running container's stdin and terminal
// (kubectl attach): output from now on, stdin and resizes from the client.
// The last message carries the exit code when the container ended.
func (s *podIOServer) Attach(stream skiffv1.PodIO_AttachServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetAttach()
	if start == nil || start.Pod == "" {
		return status.Error(codes.InvalidArgument, "attach: the first message must carry attach, naming the pod")
	}
	pod, c, list, err := s.findContainer(start.Namespace, start.Pod, start.Container)
	if err != nil {
		return err
	}
	switch {
	case !c.Stdin && !c.Tty:
		return status.Errorf(codes.FailedPrecondition, "container %s was started with neither stdin: true nor tty: true: there is nothing to attach to (see its output with skiff logs)", c.Name)
	case start.Stdin && !c.Stdin:
		return status.Errorf(codes.FailedPrecondition, "container %s was not started with stdin: true", c.Name)
	case start.Tty && !c.Tty:
		return status.Errorf(codes.FailedPrecondition, "container %s was not started with tty: true", c.Name)
	}
	in := latest(list)
	if !running(in) {
		return status.Errorf(codes.FailedPrecondition, "container %s of pod %s is not running", c.Name, pod.Metadata.Name)
	}
	out := &execOutput{stream: stream}
	spec := runtime.AttachSpec{TTY: start.Tty, Size: windowSize(start.Size), Stdout: out.writer(false), Stderr: out.writer(true)}
	stdin, resize := relayInput(stream, start.Stdin)
	spec.Resize = resize
	if stdin != nil {
		spec.Stdin = stdin
		defer stdin.Close()
	}
	err = s.agent.runtime.Attach(stream.Context(), in.state.ID, spec)
	switch {
	case errors.Is(err, runtime.ErrNotRunning):
		return status.Errorf(codes.FailedPrecondition, "container %s of pod %s is not running", c.Name, pod.Metadata.Name)
	case errors.Is(err, runtime.ErrOldSupervisor):
		return status.Errorf(codes.FailedPrecondition, "container %s: %v", c.Name, runtime.ErrOldSupervisor)
	case err != nil:
		return status.Errorf(codes.Internal, "attach: %v", err)
	}
	// The output ended: the container did, and its supervisor is about
	// to record how.
	st, err := s.agent.runtime.Wait(stream.Context(), in.state.ID)
	if err != nil || st.Status != runtime.StatusExited {
		return nil
	}
	exit := int32(st.ExitCode)
	return out.send(&skiffv1.ExecOutput{ExitCode: &exit})
}
