package cli

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type execOpts struct {
	container string
	stdin     bool
	tty       bool
}

func newExecCommand(e *env) *cobra.Command {
	o := &execOpts{}
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) [-c CONTAINER] [-it] -- COMMAND [ARGS...]",
		Short: "Run a command in a running container",
		Long: `Run a command inside a running container: in its namespaces and cgroup,
with the same restrictions. The command's exit code becomes skiff's. For
TYPE/NAME (a deployment, replica set, stateful set, job, service, …), one
of its pods: a running one.`,
		Example: `  skiff exec web -- cat /etc/resolv.conf
  skiff exec -it web -- sh                 # an interactive shell
  skiff exec web -c sidecar -- ls /data
  skiff exec deploy/web -- env             # in one of the deployment's pods
  echo hi | skiff exec -i web -- cat`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return errors.New("put the command after --: skiff exec POD -- COMMAND [ARGS...]")
			}
			return runExec(cmd, e, o, args[0], args[1:])
		},
	}
	o.addFlags(cmd, "the command", "give the command a terminal")
	return cmd
}

// addFlags adds -c, -i and -t, whose input goes to what.
func (o *execOpts) addFlags(cmd *cobra.Command, what, ttyUsage string) {
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "the container (needed when the pod has several)")
	f.BoolVarP(&o.stdin, "stdin", "i", false, "pass this terminal's standard input to "+what)
	f.BoolVarP(&o.tty, "tty", "t", false, ttyUsage+" (with -i: an interactive session)")
}

func runExec(cmd *cobra.Command, e *env, o *execOpts, target string, command []string) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	pod, err := podOfTarget(cmd.Context(), e, c, target)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stream, err := skiffv1.NewPodIOClient(c.Conn()).Exec(ctx)
	if err != nil {
		return err
	}
	start := &skiffv1.ExecStart{Namespace: e.ns(), Pod: pod, Container: o.container, Command: command, Stdin: o.stdin, Tty: o.tty}
	code, err := streamSession(cmd, stream, o.stdin, o.tty, func(size *skiffv1.TerminalSize) *skiffv1.ExecInput {
		start.Size = size
		return &skiffv1.ExecInput{Start: start}
	})
	if err == nil && code == nil {
		return errors.New("exec: the stream ended without an exit code")
	}
	if err != nil {
		return err
	}
	return exitStatus(code)
}

// execSender serialises sends: stdin and terminal resizes come from
// different goroutines, and a gRPC stream takes one sender at a time.
type execSender struct {
	mu     sync.Mutex
	stream skiffv1.PodIO_ExecClient
}

func (s *execSender) Send(m *skiffv1.ExecInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.Send(m)
}

// copyStdin sends standard input to the command, then says it closed.
func copyStdin(stream *execSender, in io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if stream.Send(&skiffv1.ExecInput{Stdin: append([]byte(nil), buf[:n]...)}) != nil {
				return
			}
		}
		if err != nil {
			stream.Send(&skiffv1.ExecInput{StdinClosed: true})
			return
		}
	}
}

// podOfTarget is the pod a command names: POD, pod/POD, or a running pod
// of TYPE/NAME.
func podOfTarget(ctx context.Context, e *env, c *client.Client, target string) (string, error) {
	kind, name, ok := strings.Cut(target, "/")
	if !ok {
		return target, nil
	}
	info, err := parseKind(kind)
	if err != nil {
		return "", err
	}
	if info.Kind == skiffv1.Kind_KIND_POD {
		return name, nil
	}
	ctx, cancel := e.call(ctx)
	defer cancel()
	return workloadPod(ctx, c, info, e.ns(), name)
}
