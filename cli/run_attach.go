package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podPoll is how often run looks at the pod while it waits.
const podPoll = 250 * time.Millisecond

// runAttached creates objs, waits for the pod NAME to run, attaches to it
// and, with --rm, deletes what it made once the session ends. With
// --restart=Never the container's exit code is skiff's.
func (r *runFlags) runAttached(cmd *cobra.Command, e *env, name string, objs []skiffv1.Resource) (err error) {
	if err := r.check(); err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	ns := e.ns()
	var created []skiffv1.Resource
	if r.rm {
		defer func() {
			if derr := r.remove(cmd, e, c, ns, created); err == nil {
				err = derr
			}
		}()
	}
	for _, obj := range objs {
		asKubernetes(obj)
		ctx, cancel := e.call(cmd.Context())
		_, err := c.API().Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(obj)})
		cancel()
		if err != nil {
			return apiErr(err)
		}
		created = append(created, obj)
	}
	pod, err := waitPodStarted(cmd.Context(), c, ns, name, r.podRunningTimeout)
	if err != nil {
		return err
	}
	if pod.GetStatus().GetPhase() == "Running" {
		_, err = attachStream(cmd, c, ns, name, &attachOpts{execOpts{container: name, stdin: r.stdin, tty: r.tty}, r.quiet})
		if status.Code(err) == codes.FailedPrecondition {
			err = printLogs(cmd, c, ns, name) // it ended before we attached
		}
	} else {
		err = printLogs(cmd, c, ns, name)
	}
	if err != nil {
		return err
	}
	if r.restart != "Never" {
		if !r.rm && !r.quiet {
			fmt.Fprintf(cmd.ErrOrStderr(), "Session ended, resume using 'skiff attach %s -c %s -i -t' command when the pod is running\n", name, name)
		}
		return nil
	}
	code, err := terminatedExitCode(cmd.Context(), c, ns, name)
	if err != nil {
		return err
	}
	return exitStatus(&code)
}

// waitPodStarted waits until the pod runs or has already finished.
func waitPodStarted(ctx context.Context, c *client.Client, ns, name string, timeout time.Duration) (*skiffv1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *skiffv1.Pod
	for {
		pod, err := c.Pods().Get(ctx, ns, name)
		if err == nil {
			last = pod
			switch pod.GetStatus().GetPhase() {
			case "Running", "Succeeded", "Failed":
				return pod, nil
			}
		} else if ctx.Err() == nil {
			return nil, apiErr(err)
		}
		select {
		case <-ctx.Done():
			if cerr := context.Cause(ctx); !errors.Is(cerr, context.DeadlineExceeded) {
				return nil, cerr
			}
			return nil, fmt.Errorf("pod %s did not start running within %s (--pod-running-timeout): it is %s", name, timeout, summarizePod(last).status)
		case <-time.After(podPoll):
		}
	}
}

// terminatedExitCode waits for the pod's container to be reported
// terminated and returns its exit code.
func terminatedExitCode(ctx context.Context, c *client.Client, ns, name string) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		pod, err := c.Pods().Get(ctx, ns, name)
		if err != nil {
			return 0, apiErr(err)
		}
		for _, cs := range pod.GetStatus().GetContainerStatuses() {
			if t := cs.GetState().GetTerminated(); cs.GetName() == name && t != nil {
				return t.GetExitCode(), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("pod %s: its container's exit was not reported within a minute", name)
		case <-time.After(podPoll):
		}
	}
}

// printLogs prints a container's whole log: what run shows of a pod that
// finished before it could attach.
func printLogs(cmd *cobra.Command, c *client.Client, ns, pod string) error {
	req := &skiffv1.LogsRequest{Namespace: ns, Pod: pod, TailLines: -1}
	return streamLog(cmd.Context(), c, req, &lineWriter{w: cmd.OutOrStdout()}, "", func() {})
}

// remove deletes what run made and waits until it is gone, as kubectl
// run --rm does; it runs even when the session was interrupted.
func (r *runFlags) remove(cmd *cobra.Command, e *env, c *client.Client, ns string, objs []skiffv1.Resource) error {
	var failed []error
	for _, obj := range objs {
		t := target{info: infoOf(obj), ns: ns, name: obj.GetMetadata().GetName()}
		ctx, cancel := e.call(context.WithoutCancel(cmd.Context()))
		resp, err := c.API().Delete(ctx, &skiffv1.DeleteRequest{Kind: t.info.Kind, Namespace: ns, Name: t.name})
		cancel()
		if err == nil && !resp.Deleted {
			err = waitGone(cmd, e, c, t, resp.Object.Unwrap(), 2*time.Minute)
		}
		if err != nil && !client.IsNotFound(err) {
			failed = append(failed, apiErr(err))
			continue
		}
		if !r.quiet {
			fmt.Fprintf(cmd.OutOrStdout(), "%s deleted\n", t)
		}
	}
	return errors.Join(failed...)
}
