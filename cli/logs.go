package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type logsOpts struct {
	container  string
	follow     bool
	tail       int64
	previous   bool
	timestamps bool
}

func newLogsCommand(e *env) *cobra.Command {
	o := &logsOpts{}
	cmd := &cobra.Command{
		Use:   "logs POD | job/NAME",
		Short: "Print the logs of a pod's container",
		Long: `Print what a pod's container wrote to stdout and stderr. The API server
fetches it from the agent of the pod's node. For job/NAME, one of the
Job's pods is picked: a running one, else the newest.`,
		Example: `  skiff logs web
  skiff logs job/pi                # a pod of the Job pi
  skiff logs -f web                # follow until the container exits
  skiff logs web -c sidecar --tail 20
  skiff logs web --previous        # the instance before the last restart`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			// Without -f the command must end, but a long log may take more
			// than --request-timeout to stream: bound each wait for data,
			// not the whole transfer.
			ctx, progress, stop := stallGuard(cmd.Context(), e.requestTimeout, !o.follow)
			defer stop()
			pod, err := logsPod(ctx, c, e.ns(), args[0])
			if err != nil {
				return stalled(ctx, err, args[0], e.requestTimeout)
			}
			stream, err := skiffv1.NewPodIOClient(c.Conn()).Logs(ctx, &skiffv1.LogsRequest{
				Namespace: e.ns(), Pod: pod, Container: o.container,
				Follow: o.follow, TailLines: o.tail, Previous: o.previous, Timestamps: o.timestamps,
			})
			if err != nil {
				return stalled(ctx, err, pod, e.requestTimeout)
			}
			out := cmd.OutOrStdout()
			for {
				chunk, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return stalled(ctx, err, pod, e.requestTimeout)
				}
				progress()
				if _, err := out.Write(chunk.Data); err != nil {
					return err
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "the container (needed when the pod has several)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing as the log grows")
	f.Int64Var(&o.tail, "tail", -1, "lines from the end to show; -1 shows all")
	f.BoolVarP(&o.previous, "previous", "p", false, "the log of the previous, terminated instance")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its time")
	return cmd
}

var errStalled = errors.New("stalled")

// stallGuard returns a context cancelled once d passes without a call to
// progress; when on is false it never fires.
func stallGuard(parent context.Context, d time.Duration, on bool) (ctx context.Context, progress, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	if !on || d <= 0 {
		return ctx, func() {}, func() { cancel(nil) }
	}
	t := time.AfterFunc(d, func() { cancel(errStalled) })
	return ctx, func() { t.Reset(d) }, func() { t.Stop(); cancel(nil) }
}

// stalled says which wait ran out when the stall guard ended the stream.
func stalled(ctx context.Context, err error, pod string, d time.Duration) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("no log data for pod %q in %s: the server or the agent of the pod's node is slow to answer; try again, or raise --request-timeout", pod, d)
	}
	return err
}

// logsPod is the pod whose log `skiff logs ARG` prints: ARG itself (or
// pod/NAME), or for job/NAME one of the Job's pods, a running one first,
// else the newest.
func logsPod(ctx context.Context, c *client.Client, ns, arg string) (string, error) {
	kind, name, ok := strings.Cut(arg, "/")
	if !ok {
		return arg, nil
	}
	info, err := skiffv1.ParseKind(kind)
	if err != nil {
		return "", err
	}
	switch info.Kind {
	case skiffv1.Kind_KIND_POD:
		return name, nil
	case skiffv1.Kind_KIND_JOB:
	default:
		return "", fmt.Errorf("logs of a %s are not supported; give a pod or job/NAME", info.Name)
	}
	job, err := c.Jobs().Get(ctx, ns, name)
	if err != nil {
		return "", err
	}
	pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: ns})
	if err != nil {
		return "", err
	}
	var best *skiffv1.Pod
	rank := func(p *skiffv1.Pod) (bool, int64) {
		return p.GetStatus().GetPhase() == "Running", p.GetMetadata().GetCreationTimestamp().AsTime().UnixNano()
	}
	for _, p := range pods {
		ref := p.GetMetadata().GetOwnerReferences()
		if len(ref) == 0 || ref[0].GetUid() != job.GetMetadata().GetUid() {
			continue
		}
		if best == nil {
			best = p
			continue
		}
		r, t := rank(p)
		br, bt := rank(best)
		if (r && !br) || (r == br && t > bt) {
			best = p
		}
	}
	if best == nil {
		return "", fmt.Errorf("job %q has no pods", name)
	}
	return best.GetMetadata().GetName(), nil
}
