package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/cronjob"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newCreateJobCommand is kubectl's `create job`: a Job of one container
// from --image, or a run of a CronJob now (--from=cronjob/NAME).
func newCreateJobCommand(e *env) *cobra.Command {
	var o createOutput
	var from, image string
	cmd := &cobra.Command{
		Use:   "job NAME (--image=IMAGE [-- COMMAND [ARG...]] | --from=cronjob/NAME)",
		Short: "Create a Job that runs an image, or a CronJob's job now",
		Long: `Create a Job as kubectl create job does: one container named NAME running
--image (words after -- are its command), restartPolicy Never; or, with
--from=cronjob/NAME, a run of a CronJob's job template now rather than at
its next scheduled time. Such a Job belongs to the CronJob (deleting the
CronJob deletes it) and is marked cronjob.kubernetes.io/instantiate: manual.`,
		Example: `  skiff create job hello --image=busybox -- echo "hello world"
  skiff logs job/hello
  skiff create job backup-now --from=cronjob/backup`,
		Args: nameThenCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command := args[0], args[1:]
			switch {
			case from != "" && image != "":
				return errors.New("give --image or --from, not both")
			case from != "" && len(command) > 0:
				return errors.New("--from takes the CronJob's command; drop the words after --")
			case from == "" && image == "":
				return errors.New("give the image to run (--image=IMAGE) or a CronJob to run now (--from=cronjob/NAME)")
			}
			if image != "" {
				job := &skiffv1.Job{
					Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: e.ns()},
					Spec:     &skiffv1.JobSpec{Template: oneContainerTemplate(name, image, command, "Never")},
				}
				return o.finish(cmd, e, "created", job)
			}
			kind, cjName, ok := strings.Cut(from, "/")
			if !ok || cjName == "" || (kind != "cronjob" && kind != "cronjobs" && kind != "cj" && kind != "cronjob.batch") {
				return fmt.Errorf("--from=%s: give cronjob/NAME; only a CronJob's template makes a Job", from)
			}
			var job *skiffv1.Job
			err := e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				cj, err := c.CronJobs().Get(ctx, e.ns(), cjName)
				if err != nil {
					return apiErr(err)
				}
				job = cronjob.Job(cj, name)
				return nil
			})
			if err != nil {
				return err
			}
			if job.Metadata.Annotations == nil {
				job.Metadata.Annotations = map[string]string{}
			}
			job.Metadata.Annotations[cronjob.Instantiate] = "manual"
			return o.finish(cmd, e, "created", job)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the object to make the Job from: cronjob/NAME")
	cmd.Flags().StringVar(&image, "image", "", "the image to run")
	o.addFlags(cmd)
	return cmd
}

// newCreateCronJobCommand is kubectl's `create cronjob`.
func newCreateCronJobCommand(e *env) *cobra.Command {
	var o createOutput
	var image, schedule, restart string
	cmd := &cobra.Command{
		Use:     "cronjob NAME --image=IMAGE --schedule='CRON' [--restart=OnFailure] [-- COMMAND [ARG...]]",
		Aliases: []string{"cj"},
		Short:   "Create a CronJob that runs an image on a schedule",
		Long: `Create a CronJob as kubectl create cronjob does: on each time of --schedule
(cron syntax: minute hour day-of-month month day-of-week, or @hourly and
the like) a Job runs one container named NAME with --image; words after
-- are its command.`,
		Example: `  skiff create cronjob tick --image=busybox --schedule='*/5 * * * *' -- date
  skiff create job tick-now --from=cronjob/tick`,
		Args: nameThenCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command := args[0], args[1:]
			if image == "" {
				return errors.New("give the image to run: --image=IMAGE")
			}
			if schedule == "" {
				return errors.New("give when to run: --schedule='*/5 * * * *' (cron syntax)")
			}
			switch restart {
			case "OnFailure", "Never":
			default:
				return fmt.Errorf("--restart=%s: a job's pods restart OnFailure or Never", restart)
			}
			cj := &skiffv1.CronJob{
				Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: e.ns()},
				Spec: &skiffv1.CronJobSpec{
					Schedule: schedule,
					JobTemplate: &skiffv1.JobTemplateSpec{
						Metadata: &skiffv1.ObjectMeta{Name: name},
						Spec:     &skiffv1.JobSpec{Template: oneContainerTemplate(name, image, command, restart)},
					},
				},
			}
			return o.finish(cmd, e, "created", cj)
		},
	}
	f := cmd.Flags()
	f.StringVar(&image, "image", "", "the image to run")
	f.StringVar(&schedule, "schedule", "", "when to run, in cron syntax")
	f.StringVar(&restart, "restart", "OnFailure", "the pods' restart policy: OnFailure or Never")
	o.addFlags(cmd)
	return cmd
}

// oneContainerTemplate is the pod template kubectl's create job and
// create cronjob make: one container named after the object.
func oneContainerTemplate(name, image string, command []string, restart string) *skiffv1.PodTemplateSpec {
	return &skiffv1.PodTemplateSpec{Spec: &skiffv1.PodSpec{
		Containers:    []*skiffv1.Container{{Name: name, Image: image, Command: command}},
		RestartPolicy: restart,
	}}
}
