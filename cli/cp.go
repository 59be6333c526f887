package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/cli/cptar"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newCpCommand(e *env) *cobra.Command {
	var container string
	cmd := &cobra.Command{
		Use:   "cp [NAMESPACE/]POD:SRC DEST | SRC [NAMESPACE/]POD:DEST",
		Short: "Copy files and directories out of a container or into it",
		Long: `Copy a file or a directory (recursively) between this machine and a
container, as kubectl cp does: the copy takes DEST's name. It runs tar in
the container through exec, so the image needs tar (busybox has it).
Unpacking here refuses anything the container's tar puts outside DEST, and
skips symbolic links that point out of what is copied.`,
		Example: `  skiff cp web:/etc/nginx/nginx.conf ./nginx.conf
  skiff cp team/db:/var/lib/data ./data-backup
  skiff cp ./site web:/usr/share/nginx/html -c nginx`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := parseCpArg(args[0], e.ns()), parseCpArg(args[1], e.ns())
			switch {
			case src.pod != "" && dst.pod != "":
				return errors.New("copy between a container and this machine: one side is POD:PATH, the other a local path")
			case src.pod != "":
				return copyFromPod(cmd, e, src, dst.path, container)
			case dst.pod != "":
				return copyToPod(cmd, e, src.path, dst, container)
			}
			return errors.New("one side must be POD:PATH (a path in a container)")
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "the container (needed when the pod has several)")
	return cmd
}

// cpPath is one side of cp: a local path, or a path in a pod.
type cpPath struct {
	ns, pod, path string
}

// parseCpArg reads [NAMESPACE/]POD:PATH, or a local path (which may hold
// a colon after a slash, as ./a:b).
func parseCpArg(s, ns string) cpPath {
	i := strings.Index(s, ":")
	if i <= 0 || strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.Count(s[:i], "/") > 1 {
		return cpPath{path: s}
	}
	pod, p := s[:i], s[i+1:]
	if n, name, ok := strings.Cut(pod, "/"); ok {
		ns, pod = n, name
	}
	return cpPath{ns: ns, pod: pod, path: p}
}

func copyFromPod(cmd *cobra.Command, e *env, src cpPath, dest, container string) error {
	p := path.Clean(src.path)
	if p == "/" || p == "." {
		return fmt.Errorf("cp: %s: give a file or directory below /", src.path)
	}
	dir, base := path.Dir(p), path.Base(p)
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := cptar.Unpack(pr, base, dest, func(w string) { fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w) })
		if err == nil {
			io.Copy(io.Discard, pr) // tar's padding after its end
		}
		pr.CloseWithError(err) // a refusal stops the copy
		done <- err
	}()
	code, err := execPipe(cmd.Context(), e, src, container, []string{"tar", "cf", "-", "-C", dir, base}, nil, pw, &stderr)
	pw.Close()
	unpackErr := <-done
	tarOK := code != nil && *code == 0
	if unpackErr != nil && (tarOK || errors.Is(err, io.ErrClosedPipe)) {
		return unpackErr // a refusal here, which stopped the stream
	}
	// tar's own complaint says more than an empty stream does.
	if err := tarFailed(code, err, &stderr); err != nil {
		return err
	}
	return unpackErr
}

func copyToPod(cmd *cobra.Command, e *env, src string, dst cpPath, container string) error {
	if _, err := os.Lstat(src); err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	p := path.Clean(dst.path)
	if p == "/" || p == "." {
		return fmt.Errorf("cp: %s: give the name the copy takes, below /", dst.path)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(cptar.Pack(pw, src, path.Base(p))) }()
	var stderr bytes.Buffer
	code, err := execPipe(cmd.Context(), e, dst, container, []string{"tar", "xmf", "-", "-C", path.Dir(p)}, pr, io.Discard, &stderr)
	pr.Close()
	return tarFailed(code, err, &stderr)
}

// tarFailed is why the container's tar did not do its job, if it did not.
func tarFailed(code *int32, err error, stderr *bytes.Buffer) error {
	msg := strings.TrimSpace(stderr.String())
	switch {
	case err != nil && strings.Contains(err.Error(), "not found in PATH"):
		return errors.New("cp: the container has no tar; cp needs one in its image")
	case err != nil:
		return err
	case code == nil:
		return errors.New("cp: the stream ended without tar's exit code")
	case *code == 127:
		return fmt.Errorf("cp: the container has no tar (%s); cp needs one in its image", msg)
	case *code != 0:
		return fmt.Errorf("cp: tar in the container exited with %d: %s", *code, msg)
	}
	return nil
}

// execPipe runs command in a pod's container, with stdin (nil: none) and
// its output written to stdout and stderr, and returns its exit code.
func execPipe(ctx context.Context, e *env, at cpPath, container string, command []string, stdin io.Reader, stdout, stderr io.Writer) (*int32, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := skiffv1.NewPodIOClient(c.Conn()).Exec(ctx)
	if err != nil {
		return nil, err
	}
	send := &execSender{stream: stream}
	start := &skiffv1.ExecStart{Namespace: at.ns, Pod: at.pod, Container: container, Command: command, Stdin: stdin != nil}
	if err := send.Send(&skiffv1.ExecInput{Start: start}); err != nil {
		return nil, apiErr(err)
	}
	if stdin != nil {
		go copyStdin(send, stdin)
	} else {
		stream.CloseSend()
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, apiErr(err)
		}
		if _, err := stdout.Write(msg.Stdout); err != nil {
			return nil, err
		}
		stderr.Write(msg.Stderr)
		if msg.ExitCode != nil {
			return msg.ExitCode, nil
		}
	}
}
