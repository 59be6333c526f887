package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newCreateCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an object from the command line",
		Example: `  skiff create namespace team
  skiff create deployment web --image=nginx:1.27 --replicas=2 --port=80
  skiff create configmap site --from-file=index.html
  skiff create secret generic db --from-literal=password=s3cret
  skiff create service clusterip web --tcp=80:8080
  skiff create job hello --image=busybox -- echo hello
  skiff create cronjob tick --image=busybox --schedule='*/5 * * * *' -- date
  skiff create job backup-now --from=cronjob/backup
  skiff apply -f web.yaml    # for everything else, write a manifest`,
	}
	cmd.AddCommand(newCreateDeploymentCommand(e), newCreateServiceCommand(e), newCreateJobCommand(e), newCreateCronJobCommand(e), newCreateConfigMapCommand(e), newCreateSecretCommand(e))
	cmd.AddCommand(&cobra.Command{
		Use:     "namespace NAME",
		Aliases: []string{"ns"},
		Short:   "Create a namespace",
		Example: `  skiff create namespace team
  skiff apply -f web.yaml -n team`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.call(cmd.Context())
			defer cancel()
			ns := &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: args[0]}}
			if _, err := c.Namespaces().Create(ctx, ns); err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "namespace/%s created\n", args[0])
			return nil
		},
	})
	return cmd
}
