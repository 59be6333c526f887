package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newScaleCommand(e *env) *cobra.Command {
	replicas := -1
	cmd := &cobra.Command{
		Use:   "scale rs|rc|deploy|sts NAME --replicas N",
		Short: "Set the number of pods a replica set, replication controller, deployment or stateful set keeps",
		Long: `Set a replica set's, replication controller's, deployment's or stateful
set's spec.replicas (given as KIND NAME or KIND/NAME); its
controller then creates or deletes pods until that many run (a stateful set
from the highest ordinal down). An autoscaler targeting it overrides this
at its next evaluation.`,
		Example: `  skiff scale rs web --replicas 5
  skiff scale deploy web --replicas 3
  skiff scale sts db --replicas 5            # db-3 and db-4 come up in order
  skiff scale rs web --replicas 0 -n team   # stop every pod, keep the set
  skiff scale rc/nginx --replicas 2`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, hasSlash := strings.Cut(args[0], "/")
			switch {
			case hasSlash && len(args) == 1 && name != "":
			case !hasSlash && len(args) == 2:
				name = args[1]
			default:
				return errors.New("give what to scale as KIND NAME or KIND/NAME, e.g. rs web or rc/nginx")
			}
			info, err := parseKind(kind)
			if err != nil {
				return err
			}
			switch info.Kind {
			case skiffv1.Kind_KIND_REPLICA_SET, skiffv1.Kind_KIND_REPLICATION_CONTROLLER, skiffv1.Kind_KIND_DEPLOYMENT, skiffv1.Kind_KIND_STATEFUL_SET:
			default:
				return fmt.Errorf("cannot scale a %s: only replica sets (rs), replication controllers (rc), deployments (deploy) and stateful sets (sts) have replicas", info.Name)
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
			ns := e.ns()
			switch info.Kind {
			case skiffv1.Kind_KIND_DEPLOYMENT:
				err = scaleTo(ctx, c.Deployments(), ns, name, replicas, func(d *skiffv1.Deployment) **int32 { return &d.Spec.Replicas })
			case skiffv1.Kind_KIND_STATEFUL_SET:
				err = scaleTo(ctx, c.StatefulSets(), ns, name, replicas, func(s *skiffv1.StatefulSet) **int32 { return &s.Spec.Replicas })
			case skiffv1.Kind_KIND_REPLICATION_CONTROLLER:
				err = scaleTo(ctx, c.ReplicationControllers(), ns, name, replicas, func(rc *skiffv1.ReplicationController) **int32 { return &rc.Spec.Replicas })
			default:
				err = scaleTo(ctx, c.ReplicaSets(), ns, name, replicas, func(rs *skiffv1.ReplicaSet) **int32 { return &rs.Spec.Replicas })
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s scaled\n", slashName(info, name))
			if as, _, err := c.Autoscalers().List(ctx, client.ListOptions{Namespace: ns}); err == nil {
				for _, a := range as {
					if a.GetSpec().GetTarget() == name && autoscalerTarget(a) == info.Name+"/"+name {
						progress(cmd, "note: autoscaler/%s manages this %s and will set its replicas again", a.GetMetadata().GetName(), lower(info))
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", -1, "the number of pods to keep")
	return cmd
}

// scaleTo writes one object's spec.replicas.
func scaleTo[T skiffv1.Resource](ctx context.Context, res client.Resource[T], ns, name string, replicas int, field func(T) **int32) error {
	_, err := res.Modify(ctx, ns, name, func(o T) error {
		f := field(o)
		if *f != nil && **f == int32(replicas) {
			return client.ErrNoChange
		}
		*f = proto.Int32(int32(replicas))
		return nil
	})
	return err
}
