package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newScaleCommand(e *env) *cobra.Command {
	replicas := -1
	cmd := &cobra.Command{
		Use:   "scale rs NAME --replicas N",
		Short: "Set the number of pods a replica set keeps",
		Long: `Set a replica set's spec.replicas; its controller then creates or deletes pods
until that many run. An autoscaler targeting the set overrides this at its next
evaluation.`,
		Example: `  skiff scale rs web --replicas 5
  skiff scale rs web --replicas 0 -n team   # stop every pod, keep the set`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := parseKind(args[0])
			if err != nil {
				return err
			}
			if info.Kind != skiffv1.Kind_KIND_REPLICA_SET {
				return fmt.Errorf("cannot scale a %s: only replica sets (rs) have replicas", info.Name)
			}
			if replicas < 0 {
				return errors.New("--replicas N is required and must not be negative")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.call(cmd.Context())
			defer cancel()
			name, ns := args[1], e.ns()
			_, err = c.ReplicaSets().Modify(ctx, ns, name, func(rs *skiffv1.ReplicaSet) error {
				if rs.GetSpec().GetReplicas() == int32(replicas) {
					return client.ErrNoChange
				}
				rs.Spec.Replicas = proto.Int32(int32(replicas))
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "replicaset/%s scaled\n", name)
			if as, _, err := c.Autoscalers().List(ctx, client.ListOptions{Namespace: ns}); err == nil {
				for _, a := range as {
					if a.GetSpec().GetTarget() == name {
						progress(cmd, "note: autoscaler/%s manages this replica set and will set its replicas again", a.GetMetadata().GetName())
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", -1, "the number of pods to keep")
	return cmd
}
