package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type logsOpts struct {
	container     string
	follow        bool
	tail          int64
	previous      bool
	timestamps    bool
	since         time.Duration
	sinceTime     string
	limitBytes    int64
	selector      string
	prefix        bool
	allContainers bool
	maxRequests   int
}

func newLogsCommand(e *env) *cobra.Command {
	o := &logsOpts{}
	cmd := &cobra.Command{
		Use:   "logs [TYPE/]NAME | -l SELECTOR",
		Short: "Print the logs of a pod's container",
		Long: `Print what a pod's container wrote to stdout and stderr. The API server
fetches it from the agent of the pod's node. For TYPE/NAME (deployment,
replicaset, replicationcontroller, statefulset, daemonset, service or job),
one of its pods is picked: a running one, else the newest. With -l, the logs of every
matching pod, one after the other (at once with -f).`,
		Example: `  skiff logs web
  skiff logs deploy/web            # a pod of the deployment web
  skiff logs job/pi                # a pod of the Job pi
  skiff logs -f web                # follow until the container exits
  skiff logs web -c sidecar --tail 20
  skiff logs web --since 10m       # the last ten minutes only
  skiff logs -l app=web --prefix --all-containers
  skiff logs web --previous        # the instance before the last restart`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd, e, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "the container (needed when the pod has several)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing as the log grows")
	f.Int64Var(&o.tail, "tail", -1, "lines from the end to show; -1 shows all")
	f.BoolVarP(&o.previous, "previous", "p", false, "the log of the previous, terminated instance")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its time")
	f.DurationVar(&o.since, "since", 0, "only lines newer than this, e.g. 5s, 2m, 3h")
	f.StringVar(&o.sinceTime, "since-time", "", "only lines at or after this time (RFC 3339)")
	f.Int64Var(&o.limitBytes, "limit-bytes", 0, "stop after this many bytes of each log (0: no limit)")
	f.StringVarP(&o.selector, "selector", "l", "", "the logs of every pod matching this label selector")
	f.BoolVar(&o.prefix, "prefix", false, "start each line with [pod/NAME/CONTAINER]")
	f.BoolVar(&o.allContainers, "all-containers", false, "the logs of every container of the pod(s)")
	f.IntVar(&o.maxRequests, "max-log-requests", 5, "with -l and -f, how many logs may be followed at once")
	return cmd
}

// logSource is one container's log to print.
type logSource struct{ pod, container string }

func runLogs(cmd *cobra.Command, e *env, o *logsOpts, args []string) error {
	switch {
	case o.selector == "" && len(args) != 1:
		return errors.New("give one pod (or TYPE/NAME), or -l SELECTOR; see 'skiff logs --help'")
	case o.selector != "" && len(args) > 0:
		return errors.New("give a pod or -l SELECTOR, not both")
	case o.since < 0:
		return fmt.Errorf("--since=%s: must not be negative", o.since)
	case o.since > 0 && o.sinceTime != "":
		return errors.New("--since and --since-time: give at most one")
	case o.limitBytes < 0:
		return fmt.Errorf("--limit-bytes=%d: must not be negative", o.limitBytes)
	}
	req := &skiffv1.LogsRequest{
		Namespace: e.ns(), Follow: o.follow, TailLines: o.tail, Previous: o.previous,
		Timestamps: o.timestamps, SinceSeconds: int64((o.since + time.Second - 1) / time.Second), LimitBytes: o.limitBytes,
	}
	if o.sinceTime != "" {
		t, err := time.Parse(time.RFC3339Nano, o.sinceTime)
		if err != nil {
			return fmt.Errorf("--since-time=%s: not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)", o.sinceTime)
		}
		req.SinceTime = timestamppb.New(t)
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	// Without -f the command must end, but a long log may take more
	// than --request-timeout to stream: bound each wait for data, not
	// the whole transfer.
	ctx, progress, stop := stallGuard(cmd.Context(), e.requestTimeout, !o.follow)
	defer stop()
	what := o.selector
	if len(args) > 0 {
		what = args[0]
	}
	sources, err := logSources(ctx, c, e.ns(), o, args)
	if err != nil {
		return stalled(ctx, err, what, e.requestTimeout)
	}
	if o.follow && len(sources) > o.maxRequests {
		return fmt.Errorf("you are attempting to follow %d log streams, but at most %d may be followed at once; use --max-log-requests to raise the limit", len(sources), o.maxRequests)
	}
	if len(sources) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "No resources found")
		return nil
	}
	out := &lineWriter{w: cmd.OutOrStdout()}
	stream := func(s logSource) error {
		r := proto.Clone(req).(*skiffv1.LogsRequest)
		r.Pod, r.Container = s.pod, s.container
		prefix := ""
		if o.prefix {
			prefix = "[pod/" + s.pod + "/" + s.container + "] "
		}
		return streamLog(ctx, c, r, out, prefix, progress)
	}
	var errs []error
	if !o.follow {
		for _, s := range sources {
			if err := stream(s); err != nil {
				errs = append(errs, stalled(ctx, err, s.pod, e.requestTimeout))
			}
		}
		return errors.Join(errs...)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stream(s); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// logSources is the pods (and containers) whose logs the command prints.
func logSources(ctx context.Context, c *client.Client, ns string, o *logsOpts, args []string) ([]logSource, error) {
	var pods []*skiffv1.Pod
	if o.selector != "" {
		list, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: ns, LabelSelector: o.selector})
		if err != nil {
			return nil, apiErr(err)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].GetMetadata().GetName() < list[j].GetMetadata().GetName() })
		pods = list
	} else {
		name, err := logsPod(ctx, c, ns, args[0])
		if err != nil {
			return nil, err
		}
		if !o.allContainers && !o.prefix {
			return []logSource{{pod: name, container: o.container}}, nil
		}
		p, err := c.Pods().Get(ctx, ns, name)
		if err != nil {
			return nil, apiErr(err)
		}
		pods = []*skiffv1.Pod{p}
	}
	var out []logSource
	for _, p := range pods {
		name := p.GetMetadata().GetName()
		switch {
		case o.allContainers:
			for _, ct := range append(append([]*skiffv1.Container(nil), p.GetSpec().GetInitContainers()...), p.GetSpec().GetContainers()...) {
				out = append(out, logSource{pod: name, container: ct.GetName()})
			}
		case o.container != "":
			out = append(out, logSource{pod: name, container: o.container})
		default:
			// The first container, as kubectl's default.
			out = append(out, logSource{pod: name, container: p.GetSpec().GetContainers()[0].GetName()})
		}
	}
	return out, nil
}

// streamLog copies one log to out, each line started with prefix.
func streamLog(ctx context.Context, c *client.Client, req *skiffv1.LogsRequest, out *lineWriter, prefix string, progress func()) error {
	stream, err := skiffv1.NewPodIOClient(c.Conn()).Logs(ctx, req)
	if err != nil {
		return err
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		progress()
		if err := out.write(prefix, chunk.Data); err != nil {
			return err
		}
	}
}

// lineWriter writes chunks from several logs without mixing their lines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(prefix string, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prefix != "" {
		data = append([]byte(prefix), data...)
	}
	_, err := l.w.Write(data)
	return err
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
	case skiffv1.Kind_KIND_DEPLOYMENT, skiffv1.Kind_KIND_REPLICA_SET, skiffv1.Kind_KIND_REPLICATION_CONTROLLER, skiffv1.Kind_KIND_STATEFUL_SET, skiffv1.Kind_KIND_DAEMON_SET, skiffv1.Kind_KIND_SERVICE:
		return workloadPod(ctx, c, info, ns, name)
	default:
		return "", fmt.Errorf("logs of a %s are not supported; give a pod, or a deployment, replicaset, replicationcontroller, statefulset, daemonset, service or job", info.Name)
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

// workloadPod is the pod of a workload or service that `skiff logs` and
// `skiff exec` take for TYPE/NAME: a running one (kubectl's pick), else the
// newest.
func workloadPod(ctx context.Context, c *client.Client, info skiffv1.KindInfo, ns, name string) (string, error) {
	obj, err := getObject(ctx, c, info, ns, name)
	if err != nil {
		return "", err
	}
	ls, err := podSelectorOf(obj)
	if err != nil {
		return "", err
	}
	sel, err := labels.FromLabelSelector(ls)
	if err != nil {
		return "", fmt.Errorf("%s: selector: %w", slashName(info, name), err)
	}
	pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: ns, LabelSelector: sel.String()})
	if err != nil {
		return "", apiErr(err)
	}
	if p := pickPod(pods); p != nil {
		return p.GetMetadata().GetName(), nil
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("%s has no pods", slashName(info, name))
	}
	newest := pods[0]
	for _, p := range pods[1:] {
		if p.GetMetadata().GetCreationTimestamp().AsTime().After(newest.GetMetadata().GetCreationTimestamp().AsTime()) {
			newest = p
		}
	}
	return newest.GetMetadata().GetName(), nil
}
