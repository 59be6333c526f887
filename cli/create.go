package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/cli/manifest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newCreateCommand(e *env) *cobra.Command {
	var src fileFlags
	out := createOutput{serverDryRun: true}
	cmd := &cobra.Command{
		Use:   "create -f FILE|DIR|URL|-",
		Short: "Create objects from manifests or from the command line",
		Long: `With -f, create the objects of the manifests (as apply reads them); one that
already exists is an error, where apply would update it. Otherwise create
one object of the kind named, from flags.`,
		Example: `  skiff create -f web.yaml
  skiff create -f https://k8s.io/examples/application/deployment.yaml
  skiff create namespace team
  skiff create deployment web --image=nginx:1.27 --replicas=2 --port=80
  skiff create configmap site --from-file=index.html
  skiff create secret generic db --from-literal=password=s3cret
  skiff create service clusterip web --tcp=80:8080
  skiff create job hello --image=busybox -- echo hello
  skiff create cronjob tick --image=busybox --schedule='*/5 * * * *' -- date
  skiff create job backup-now --from=cronjob/backup
  skiff apply -f web.yaml    # create or update`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(src.files) == 0 {
				return errors.New("give -f FILE|DIR|URL|- or a kind to create (skiff create --help lists them)")
			}
			return runCreateFromFiles(cmd, e, src, out)
		},
	}
	src.add(cmd)
	out.addFlags(cmd)
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

// runCreateFromFiles creates the manifests' objects in order. One that
// fails (already there, refused) is reported and the others go on, as
// kubectl does.
func runCreateFromFiles(cmd *cobra.Command, e *env, src fileFlags, out createOutput) error {
	if err := out.check(); err != nil {
		return err
	}
	objs, err := readManifests(cmd, e, src)
	if err != nil {
		return err
	}
	var c *client.Client
	if out.dryRun != "client" {
		if c, err = e.client(); err != nil {
			return err
		}
	}
	return eachManifest(cmd, out, objs, func(o manifest.Object) (string, skiffv1.Resource, error) {
		if c == nil {
			return "created", o.Obj, nil
		}
		fresh := proto.Clone(o.Obj).(skiffv1.Resource)
		fresh.GetMetadata().ResourceVersion = ""
		ctx, cancel := e.call(cmd.Context())
		defer cancel()
		got, err := c.API().Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(fresh), DryRun: out.dryRun == "server"})
		if err != nil {
			return "", nil, apiErr(err)
		}
		return "created", got.Unwrap(), nil
	})
}
