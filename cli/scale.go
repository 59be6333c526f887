package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// scaleOpts are kubectl scale's flags.
type scaleOpts struct {
	replicas, current int
	selector          string
	all               bool
}

func newScaleCommand(e *env) *cobra.Command {
	o := scaleOpts{replicas: -1, current: -1}
	cmd := &cobra.Command{
		Use:   "scale rs|rc|deploy|sts NAME... | KIND/NAME... | KIND -l SELECTOR|--all --replicas N",
		Short: "Set the number of pods a replica set, replication controller, deployment or stateful set keeps",
		Long: `Set a replica set's, replication controller's, deployment's or stateful
set's spec.replicas (given as KIND NAME... or KIND/NAME..., or every one of a
kind matching -l SELECTOR, or --all); its controller then creates or deletes
pods until that many run (a stateful set from the highest ordinal down).
With --current-replicas, an object that holds another count is left as it
is and reported. An autoscaler targeting an object overrides this at its
next evaluation.`,
		Example: `  skiff scale rs web --replicas 5
  skiff scale deploy web --replicas 3
  skiff scale sts db --replicas 5            # db-3 and db-4 come up in order
  skiff scale rs web --replicas 0 -n team   # stop every pod, keep the set
  skiff scale rc/nginx deploy/api --replicas 2
  skiff scale deploy -l tier=web --replicas 1
  skiff scale deploy web --current-replicas 2 --replicas 3   # only if it has 2 now`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.replicas < 0 {
				return errors.New("--replicas N is required and must not be negative")
			}
			if o.current < -1 {
				return errors.New("--current-replicas must not be negative")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			// --request-timeout bounds each page of a selector's list and
			// each object's change, not the whole run.
			targets, err := o.targets(cmd, e, c, args)
			if err != nil {
				return err
			}
			var failed []error
			var scaled []scaleTarget
			for _, t := range targets {
				ctx, cancel := e.call(cmd.Context())
				err := o.scaleOne(ctx, c, e.ns(), t)
				cancel()
				if err != nil {
					if isConnectionError(err) {
						return err
					}
					failed = append(failed, fmt.Errorf("%s: %w", slashName(t.info, t.name), apiErr(err)))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s scaled\n", slashName(t.info, t.name))
				scaled = append(scaled, t)
			}
			ctx, cancel := e.call(cmd.Context())
			defer cancel()
			noteAutoscalers(ctx, cmd, c, e.ns(), scaled)
			return errors.Join(failed...)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.replicas, "replicas", -1, "the number of pods to keep")
	f.IntVar(&o.current, "current-replicas", -1, "scale only an object that has this many replicas now")
	f.StringVarP(&o.selector, "selector", "l", "", "scale every object of KIND whose labels match")
	f.BoolVar(&o.all, "all", false, "scale every object of KIND in the namespace")
	return cmd
}

// scaleTarget is one object to scale.
type scaleTarget struct {
	info skiffv1.KindInfo
	name string
}

// targets resolves what to scale from names or a selector.
func (o *scaleOpts) targets(cmd *cobra.Command, e *env, c *client.Client, args []string) ([]scaleTarget, error) {
	groups, err := slashGroups(args)
	if err != nil {
		return nil, err
	}
	if groups == nil {
		groups = []kindNames{{kind: args[0], names: args[1:]}}
	}
	selecting := o.selector != "" || o.all
	switch {
	case selecting && (len(groups) > 1 || len(groups[0].names) > 0):
		return nil, errors.New("give names, or -l SELECTOR or --all, not both")
	case !selecting && len(groups[0].names) == 0:
		return nil, errors.New("give what to scale as KIND NAME or KIND/NAME, e.g. rs web or rc/nginx, or KIND -l SELECTOR")
	}
	var out []scaleTarget
	for _, g := range groups {
		info, err := parseKind(g.kind)
		if err != nil {
			return nil, err
		}
		switch info.Kind {
		case skiffv1.Kind_KIND_REPLICA_SET, skiffv1.Kind_KIND_REPLICATION_CONTROLLER, skiffv1.Kind_KIND_DEPLOYMENT, skiffv1.Kind_KIND_STATEFUL_SET:
		default:
			return nil, fmt.Errorf("cannot scale a %s: only replica sets (rs), replication controllers (rc), deployments (deploy) and stateful sets (sts) have replicas", info.Name)
		}
		names := g.names
		if selecting {
			objs, _, err := listEvery(cmd, e, c, info, e.ns(), o.selector, "", client.DefaultChunkSize)
			if err != nil {
				return nil, err
			}
			for _, obj := range objs {
				names = append(names, obj.GetMetadata().GetName())
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("no %s match %q in namespace %s", info.Plural, o.selector, e.ns())
			}
		}
		for _, n := range names {
			out = append(out, scaleTarget{info, n})
		}
	}
	return out, nil
}

func (o *scaleOpts) scaleOne(ctx context.Context, c *client.Client, ns string, t scaleTarget) error {
	switch t.info.Kind {
	case skiffv1.Kind_KIND_DEPLOYMENT:
		return scaleTo(ctx, c.Deployments(), ns, t.name, o.replicas, o.current, func(d *skiffv1.Deployment) **int32 { return &d.Spec.Replicas })
	case skiffv1.Kind_KIND_STATEFUL_SET:
		return scaleTo(ctx, c.StatefulSets(), ns, t.name, o.replicas, o.current, func(s *skiffv1.StatefulSet) **int32 { return &s.Spec.Replicas })
	case skiffv1.Kind_KIND_REPLICATION_CONTROLLER:
		return scaleTo(ctx, c.ReplicationControllers(), ns, t.name, o.replicas, o.current, func(rc *skiffv1.ReplicationController) **int32 { return &rc.Spec.Replicas })
	default:
		return scaleTo(ctx, c.ReplicaSets(), ns, t.name, o.replicas, o.current, func(rs *skiffv1.ReplicaSet) **int32 { return &rs.Spec.Replicas })
	}
}

// noteAutoscalers warns of each scaled object an autoscaler will set the
// replicas of again. Autoscalers are listed once for all of them.
func noteAutoscalers(ctx context.Context, cmd *cobra.Command, c *client.Client, ns string, scaled []scaleTarget) {
	if len(scaled) == 0 {
		return
	}
	as, _, err := c.Autoscalers().List(ctx, client.ListOptions{Namespace: ns})
	if err != nil {
		return
	}
	for _, t := range scaled {
		for _, a := range as {
			if a.GetSpec().GetTarget() == t.name && autoscalerTarget(a) == t.info.Name+"/"+t.name {
				progress(cmd, "note: autoscaler/%s manages %s and will set its replicas again", a.GetMetadata().GetName(), slashName(t.info, t.name))
			}
		}
	}
}

// scaleTo writes one object's spec.replicas; with current at 0 or more,
// only when it holds that many now (unset counts as 1, the default).
func scaleTo[T skiffv1.Resource](ctx context.Context, res client.Resource[T], ns, name string, replicas, current int, field func(T) **int32) error {
	_, err := res.Modify(ctx, ns, name, func(o T) error {
		f := field(o)
		now := int32(1)
		if *f != nil {
			now = **f
		}
		if current >= 0 && now != int32(current) {
			return fmt.Errorf("expected replicas to be %d, was %d: left as it is", current, now)
		}
		if *f != nil && now == int32(replicas) {
			return client.ErrNoChange
		}
		*f = proto.Int32(int32(replicas))
		return nil
	})
	return err
}
