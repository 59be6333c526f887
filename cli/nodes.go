package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newNodeCommands are cordon, uncordon, taint and drain: what an operator
// does to steer the scheduler away from (or back to) a node.
func newNodeCommands(e *env) []*cobra.Command {
	cordon := func(unschedulable bool) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			verb := map[bool]string{true: "cordoned", false: "uncordoned"}[unschedulable]
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				for _, name := range args {
					if _, err := setUnschedulable(ctx, c, name, unschedulable); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "node/%s %s\n", name, verb)
				}
				return nil
			})
		}
	}
	return []*cobra.Command{
		{
			Use:     "cordon NODE...",
			Short:   "Mark nodes unschedulable: no new pods land there",
			Example: "  skiff cordon worker-2",
			Args:    cobra.MinimumNArgs(1),
			RunE:    cordon(true),
		},
		{
			Use:     "uncordon NODE...",
			Short:   "Mark nodes schedulable again",
			Example: "  skiff uncordon worker-2",
			Args:    cobra.MinimumNArgs(1),
			RunE:    cordon(false),
		},
		newTaintCommand(e),
		newDrainCommand(e),
	}
}

// setUnschedulable cordons (or uncordons) a node; changed is false when
// it already was.
func setUnschedulable(ctx context.Context, c *client.Client, node string, unschedulable bool) (changed bool, err error) {
	_, err = c.Nodes().Modify(ctx, "", node, func(n *skiffv1.Node) error {
		if n.Spec.GetUnschedulable() == unschedulable {
			return client.ErrNoChange
		}
		n.Spec.Unschedulable = unschedulable
		changed = true
		return nil
	})
	return changed, err
}

func newTaintCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "taint NODE KEY[=VALUE]:EFFECT[-]...",
		Short: "Add or remove taints on a node",
		Long: `Taints keep pods off a node unless they tolerate them. EFFECT is NoSchedule,
PreferNoSchedule or NoExecute; a trailing '-' removes the taint (KEY- removes
every taint with that key).`,
		Example: `  skiff taint worker-2 dedicated=db:NoSchedule
  skiff taint worker-2 dedicated=db:NoSchedule-
  skiff taint worker-2 dedicated-`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var add []*skiffv1.Taint
			var remove []taintRemoval
			for _, spec := range args[1:] {
				t, rm, err := parseTaint(spec)
				if err != nil {
					return err
				}
				if rm != nil {
					remove = append(remove, *rm)
				} else {
					add = append(add, t)
				}
			}
			err := e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				_, err := c.Nodes().Modify(ctx, "", args[0], func(n *skiffv1.Node) error {
					var kept []*skiffv1.Taint
					for _, t := range n.Spec.Taints {
						drop := false
						for _, r := range remove {
							if r.key == t.Key && (r.effect == "" || r.effect == t.Effect) {
								drop = true
							}
						}
						for _, a := range add {
							if a.Key == t.Key && a.Effect == t.Effect {
								drop = true // replaced below
							}
						}
						if !drop {
							kept = append(kept, t)
						}
					}
					n.Spec.Taints = append(kept, add...)
					return nil
				})
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node/%s tainted\n", args[0])
			return nil
		},
	}
}

type taintRemoval struct{ key, effect string }

// parseTaint reads "key=value:Effect", "key:Effect", "key:Effect-" or "key-".
func parseTaint(s string) (*skiffv1.Taint, *taintRemoval, error) {
	if strings.HasSuffix(s, "-") {
		body := strings.TrimSuffix(s, "-")
		key, effect, _ := strings.Cut(body, ":")
		key, _, _ = strings.Cut(key, "=")
		if key == "" {
			return nil, nil, fmt.Errorf("taint %q: no key", s)
		}
		return nil, &taintRemoval{key: key, effect: effect}, nil
	}
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return nil, nil, fmt.Errorf("taint %q: want KEY[=VALUE]:EFFECT, EFFECT one of NoSchedule, PreferNoSchedule, NoExecute", s)
	}
	switch effect {
	case "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		return nil, nil, fmt.Errorf("taint %q: effect %q is not one of NoSchedule, PreferNoSchedule, NoExecute", s, effect)
	}
	key, value, _ := strings.Cut(kv, "=")
	if key == "" {
		return nil, nil, fmt.Errorf("taint %q: no key", s)
	}
	return &skiffv1.Taint{Key: key, Value: value, Effect: effect}, nil, nil
}
