package cli

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

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
		Use:   "logs POD",
		Short: "Print the logs of a pod's container",
		Long: `Print what a pod's container wrote to stdout and stderr. The API server
fetches it from the agent of the pod's node.`,
		Example: `  skiff logs web
  skiff logs -f web                # follow until the container exits
  skiff logs web -c sidecar --tail 20
  skiff logs web --previous        # the instance before the last restart`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !o.follow {
				var cancel func()
				ctx, cancel = e.call(ctx)
				defer cancel()
			}
			stream, err := skiffv1.NewPodIOClient(c.Conn()).Logs(ctx, &skiffv1.LogsRequest{
				Namespace: e.ns(), Pod: args[0], Container: o.container,
				Follow: o.follow, TailLines: o.tail, Previous: o.previous, Timestamps: o.timestamps,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for {
				chunk, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
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
