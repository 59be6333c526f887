package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newAutoscaleCommand(e *env) *cobra.Command {
	var minR, maxR, cpu int
	var name string
	cmd := &cobra.Command{
		Use:   "autoscale rs|deploy NAME --max M [--min N] [--cpu-percent P]",
		Short: "Create an autoscaler that sets a replica set's or deployment's size from its pods' CPU use",
		Long: `Create an Autoscaler for a replica set or a deployment. Every period the controller compares
the mean CPU use of the set's ready pods, as a percent of their CPU requests,
with the target, and sets the replica count between --min and --max
(Kubernetes' HPA rules: 10% tolerance, scale-down stabilized over 5 minutes).
The pods' containers must request cpu.`,
		Example: `  skiff autoscale rs web --min 2 --max 10 --cpu-percent 60
  skiff autoscale rs web --max 5            # min 1, target 80%
  skiff autoscale deploy web --min 2 --max 10`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := parseKind(args[0])
			if err != nil {
				return err
			}
			if info.Kind != skiffv1.Kind_KIND_REPLICA_SET && info.Kind != skiffv1.Kind_KIND_DEPLOYMENT {
				return fmt.Errorf("cannot autoscale a %s: only replica sets (rs) and deployments (deploy) can be autoscaled", info.Name)
			}
			switch {
			case maxR < 1:
				return errors.New("--max M is required and must be at least 1")
			case minR < 1:
				return fmt.Errorf("--min %d: must be at least 1", minR)
			case minR > maxR:
				return fmt.Errorf("--min %d is more than --max %d", minR, maxR)
			case cmd.Flags().Changed("cpu-percent") && cpu < 1:
				return fmt.Errorf("--cpu-percent %d: must be at least 1", cpu)
			}
			target := args[1]
			if name == "" {
				name = target
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.call(cmd.Context())
			defer cancel()
			ns := e.ns()
			if _, err := getObject(ctx, c, info, ns, target); err != nil {
				return err
			}
			a := &skiffv1.Autoscaler{
				Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: ns},
				Spec:     &skiffv1.AutoscalerSpec{Target: target, TargetKind: info.Name, MinReplicas: proto.Int32(int32(minR)), MaxReplicas: int32(maxR)},
			}
			if cmd.Flags().Changed("cpu-percent") {
				a.Spec.TargetCpuUtilizationPercent = proto.Int32(int32(cpu))
			}
			if _, err := c.Autoscalers().Create(ctx, a); err != nil {
				if client.IsAlreadyExists(err) {
					return fmt.Errorf("autoscaler %q already exists in namespace %s; change it with `skiff apply` or delete it first", name, ns)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "autoscaler/%s autoscaled\n", name)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&minR, "min", 1, "fewest replicas")
	f.IntVar(&maxR, "max", 0, "most replicas (required)")
	f.IntVar(&cpu, "cpu-percent", 80, "target mean CPU use, in percent of the pods' requests")
	f.StringVar(&name, "name", "", "the autoscaler's name (default: the replica set's)")
	return cmd
}
