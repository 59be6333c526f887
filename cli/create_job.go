package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/cronjob"
)

// newCreateJobCommand is `skiff create job NAME --from=cronjob/NAME`: a
// run of a CronJob now, outside its schedule, as kubectl makes it.
func newCreateJobCommand(e *env) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "job NAME --from=cronjob/NAME",
		Short: "Create a Job from a CronJob's template, to run it now",
		Long: `Create a Job from a CronJob's job template, to run it now rather than at its
next scheduled time. The Job belongs to the CronJob (deleting the CronJob
deletes it) and is marked cronjob.kubernetes.io/instantiate: manual.`,
		Example: `  skiff create job backup-now --from=cronjob/backup
  skiff logs job/backup-now
  skiff apply -f job.yaml    # a Job of its own: write a manifest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if from == "" {
				return errors.New("give --from=cronjob/NAME; a Job of its own is made from a manifest (skiff apply -f job.yaml)")
			}
			kind, cjName, ok := strings.Cut(from, "/")
			if !ok || cjName == "" || (kind != "cronjob" && kind != "cronjobs" && kind != "cj" && kind != "cronjob.batch") {
				return fmt.Errorf("--from=%s: give cronjob/NAME; only a CronJob's template makes a Job", from)
			}
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				cj, err := c.CronJobs().Get(ctx, e.ns(), cjName)
				if err != nil {
					return apiErr(err)
				}
				job := cronjob.Job(cj, name)
				if job.Metadata.Annotations == nil {
					job.Metadata.Annotations = map[string]string{}
				}
				job.Metadata.Annotations[cronjob.Instantiate] = "manual"
				if _, err := c.Jobs().Create(ctx, job); err != nil {
					return apiErr(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "job/%s created\n", name)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the object to make the Job from: cronjob/NAME")
	return cmd
}
