package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podIOServer serves logs and exec for this node's pods; the API server
// forwards users' calls here.
type podIOServer struct {
	skiffv1.UnimplementedPodIOServer
	agent *Agent
}

// findContainer resolves a pod and container name to the container's spec
// and its runtime instances.
func (s *podIOServer) findContainer(namespace, podName, container string) (*skiffv1.Pod, *skiffv1.Container, []instance, error) {
	if namespace == "" {
		namespace = "default"
	}
	pod, ok := s.agent.pods.Get(client.Key(namespace, podName))
	if !ok {
		return nil, nil, nil, status.Errorf(codes.NotFound, "pod %q not found in namespace %q on node %s", podName, namespace, s.agent.cfg.NodeName)
	}
	var c *skiffv1.Container
	var names []string
	for _, pc := range pod.Spec.Containers {
		names = append(names, pc.Name)
		if pc.Name == container || (container == "" && len(pod.Spec.Containers) == 1) {
			c = pc
		}
	}
	// An init container is chosen by name only, as with kubectl.
	for _, pc := range pod.Spec.InitContainers {
		names = append(names, pc.Name)
		if pc.Name == container && container != "" {
			c = pc
		}
	}
	if c == nil {
		if container == "" {
			return nil, nil, nil, status.Errorf(codes.InvalidArgument, "pod %s has several containers; choose one with -c: %s", podName, strings.Join(names, ", "))
		}
		return nil, nil, nil, status.Errorf(codes.NotFound, "pod %s has no container %q; its containers: %s", podName, container, strings.Join(names, ", "))
	}
	insts, err := s.agent.instancesOf(pod.Metadata.Uid)
	if err != nil {
		return nil, nil, nil, status.Errorf(codes.Internal, "runtime: %v", err)
	}
	return pod, c, insts[c.Name], nil
}

func (s *podIOServer) Logs(req *skiffv1.LogsRequest, stream skiffv1.PodIO_LogsServer) error {
	_, c, list, err := s.findContainer(req.Namespace, req.Pod, req.Container)
	if err != nil {
		return err
	}
	in := latest(list)
	if req.Previous {
		in = previous(list)
		if in == nil {
			return status.Errorf(codes.NotFound, "container %s has not been restarted: there is no previous log", c.Name)
		}
	}
	if in == nil {
		return status.Errorf(codes.FailedPrecondition, "container %s has not started yet", c.Name)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	follow := req.Follow && running(in)
	if follow {
		// Like kubectl, following ends when the container exits.
		go func() {
			if _, err := s.agent.runtime.Wait(ctx, in.state.ID); err == nil {
				time.Sleep(300 * time.Millisecond) // let the last lines land
				cancel()
			}
		}()
	}
	tail := int(req.TailLines)
	if req.TailLines == 0 && !req.Follow {
		tail = -1
	}
	var since time.Time
	switch {
	case req.SinceSeconds < 0:
		return status.Errorf(codes.InvalidArgument, "sinceSeconds: %d must not be negative", req.SinceSeconds)
	case req.SinceSeconds > 0 && req.SinceTime != nil:
		return status.Error(codes.InvalidArgument, "sinceSeconds and sinceTime: give at most one")
	case req.SinceSeconds > 0:
		since = time.Now().Add(-time.Duration(req.SinceSeconds) * time.Second)
	case req.SinceTime != nil:
		since = req.SinceTime.AsTime()
	}
	if req.LimitBytes < 0 {
		return status.Errorf(codes.InvalidArgument, "limitBytes: %d must not be negative", req.LimitBytes)
	}
	left := req.LimitBytes
	err = runtime.ReadLogs(ctx, in.state.LogPath, runtime.LogOptions{Tail: tail, Follow: follow}, func(r runtime.LogRecord) error {
		if r.Time.Before(since) {
			return nil
		}
		var b []byte
		if req.Timestamps {
			b = append(b, r.Time.Format(time.RFC3339Nano)+" "...)
		}
		b = append(b, r.Text...)
		if !r.Partial {
			b = append(b, '\n')
		}
		if req.LimitBytes > 0 {
			if int64(len(b)) >= left {
				b = b[:left]
				if err := stream.Send(&skiffv1.LogChunk{Data: b}); err != nil {
					return err
				}
				cancel() // the limit is reached: the stream ends here
				return errLogLimit
			}
			left -= int64(len(b))
		}
		return stream.Send(&skiffv1.LogChunk{Data: b})
	})
	if err != nil && (ctx.Err() != nil || errors.Is(err, errLogLimit)) {
		return nil
	}
	return err
}

// errLogLimit ends a log read at its byte limit.
var errLogLimit = errors.New("log byte limit reached")

func (s *podIOServer) Exec(stream skiffv1.PodIO_ExecServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil || len(start.Command) == 0 {
		return status.Error(codes.InvalidArgument, "exec: the first message must name the pod and a command")
	}
	pod, c, list, err := s.findContainer(start.Namespace, start.Pod, start.Container)
	if err != nil {
		return err
	}
	in := latest(list)
	if !running(in) {
		return status.Errorf(codes.FailedPrecondition, "container %s of pod %s is not running", c.Name, pod.Metadata.Name)
	}
	out := &execOutput{stream: stream}
	spec := runtime.ExecSpec{
		Command: start.Command,
		// Env left empty: the runtime gives the command the environment
		// the container started with, values from ConfigMaps and Secrets
		// as they were then.
		TTY:    start.Tty,
		Stdout: out.writer(false),
		Stderr: out.writer(true),
	}
	spec.Size = windowSize(start.Size)
	stdin, resize := relayInput(stream, start.Stdin)
	spec.Resize = resize
	if stdin != nil {
		spec.Stdin = stdin
		// A command that ends without reading all of its stdin must not
		// leave the relay blocked in Write for good.
		defer stdin.Close()
	}
	code, err := s.agent.runtime.Exec(stream.Context(), in.state.ID, spec)
	if err != nil {
		if errors.Is(err, runtime.ErrNotRunning) {
			return status.Errorf(codes.FailedPrecondition, "container %s is not running", c.Name)
		}
		return status.Errorf(codes.Internal, "exec: %v", err)
	}
	exit := int32(code)
	return out.send(&skiffv1.ExecOutput{ExitCode: &exit})
}

// relayInput feeds the client's later messages (stdin, its end, resizes)
// to an exec or attach until the client closes its side. The reader is
// nil without stdin; the caller closes it when done with it.
func relayInput(stream skiffv1.PodIO_ExecServer, stdin bool) (*io.PipeReader, <-chan runtime.WindowSize) {
	resize := make(chan runtime.WindowSize, 4)
	var stdinR *io.PipeReader
	var stdinW *io.PipeWriter
	if stdin {
		stdinR, stdinW = io.Pipe()
	}
	go func() {
		defer close(resize)
		for {
			msg, err := stream.Recv()
			if err != nil {
				if stdinW != nil {
					stdinW.Close()
				}
				return
			}
			if len(msg.Stdin) > 0 && stdinW != nil {
				if _, err := stdinW.Write(msg.Stdin); err != nil {
					return
				}
			}
			if msg.StdinClosed && stdinW != nil {
				stdinW.Close()
			}
			if r := msg.Resize; r != nil {
				select {
				case resize <- windowSize(r):
				default:
				}
			}
		}
	}()
	return stdinR, resize
}

func windowSize(s *skiffv1.TerminalSize) runtime.WindowSize {
	return runtime.WindowSize{Rows: uint16(s.GetHeight()), Cols: uint16(s.GetWidth())}
}

// execOutput serialises sends from the stdout and stderr copiers.
type execOutput struct {
	mu     sync.Mutex
	stream skiffv1.PodIO_ExecServer
}

func (o *execOutput) send(m *skiffv1.ExecOutput) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stream.Send(m)
}

type execWriter struct {
	o      *execOutput
	stderr bool
}

func (o *execOutput) writer(stderr bool) io.Writer { return &execWriter{o: o, stderr: stderr} }

func (w *execWriter) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	m := &skiffv1.ExecOutput{Stdout: b}
	if w.stderr {
		m = &skiffv1.ExecOutput{Stderr: b}
	}
	if err := w.o.send(m); err != nil {
		return 0, fmt.Errorf("exec output: %w", err)
	}
	return len(p), nil
}
