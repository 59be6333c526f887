package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type attachOpts struct {
	execOpts
	quiet bool
}

func newAttachCommand(e *env) *cobra.Command {
	o := &attachOpts{}
	cmd := &cobra.Command{
		Use:   "attach POD [-c CONTAINER] [-i] [-t] [-q]",
		Short: "Attach to a running container's stdin and terminal",
		Long: `Attach to the main process of a running container, as kubectl attach does:
its output from now on, and with -i this terminal's input as its stdin.
The container must have been started with stdin: true (for -i) or tty: true
(for -t). Several clients may attach at once. If the container ends, so
does the session, with its exit code.`,
		Example: `  skiff attach shell -it                 # the shell a pod with stdin/tty runs
  skiff attach web -c sidecar            # its output only
  echo 'ls /' | skiff attach -i shell`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			code, err := attachStream(cmd, c, e.ns(), args[0], o)
			if err != nil {
				return err
			}
			return exitStatus(code)
		},
	}
	o.addFlags(cmd, "the container", "use the container's terminal")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print no hint about the command prompt")
	return cmd
}

// attachStream attaches to a container until its output ends; the exit
// code is nil unless the container ended meanwhile.
func attachStream(cmd *cobra.Command, c *client.Client, ns, pod string, o *attachOpts) (*int32, error) {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stream, err := skiffv1.NewPodIOClient(c.Conn()).Attach(ctx)
	if err != nil {
		return nil, err
	}
	start := &skiffv1.AttachStart{Namespace: ns, Pod: pod, Container: o.container, Stdin: o.stdin, Tty: o.tty}
	return streamSession(cmd, stream, o.stdin, o.tty, func(size *skiffv1.TerminalSize) *skiffv1.ExecInput {
		start.Size = size
		if o.tty && !o.quiet {
			fmt.Fprintln(cmd.ErrOrStderr(), "If you don't see a command prompt, try pressing enter.")
		}
		return &skiffv1.ExecInput{Attach: start}
	})
}

// streamSession drives an exec or attach stream: it sends the first
// message (with the local terminal's size when there is one), puts a
// local terminal in raw mode and forwards its resizes for an interactive
// session, sends stdin and prints the output until the stream ends. It
// returns the exit code the last message carried, if any.
func streamSession(cmd *cobra.Command, stream skiffv1.PodIO_ExecClient, stdin, tty bool, first func(*skiffv1.TerminalSize) *skiffv1.ExecInput) (*int32, error) {
	in := cmd.InOrStdin()
	localTTY := tty && isTerminal(in)
	var size *skiffv1.TerminalSize
	if localTTY {
		size, _ = terminalSize(os.Stdout)
	}
	send := &execSender{stream: stream}
	if err := send.Send(first(size)); err != nil {
		return nil, err
	}
	if localTTY && stdin {
		restore, err := makeRaw(in)
		if err != nil {
			return nil, err
		}
		defer restore()
		stopResize := forwardResizes(send, os.Stdout)
		defer stopResize()
	}
	if stdin {
		go copyStdin(send, in)
	} else {
		stream.CloseSend()
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		out.Write(msg.Stdout)
		errOut.Write(msg.Stderr)
		if msg.ExitCode != nil {
			return msg.ExitCode, nil
		}
	}
}

// exitStatus makes a remote exit code skiff's.
func exitStatus(code *int32) error {
	if code != nil && *code != 0 {
		return &ExitError{Code: int(*code)}
	}
	return nil
}
