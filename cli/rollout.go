package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/rollout"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newRolloutCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND deploy/NAME",
		Short: "Follow, pause, resume, restart and undo a deployment's rollout",
		Long: `Manage the rollout of a deployment: every change of its pod template makes a
new revision (a replica set), to which the pods move as the deployment's
strategy says.`,
		Example: `  skiff rollout status deploy/web
  skiff rollout history deploy/web
  skiff rollout undo deploy/web --to-revision 2
  skiff rollout restart deploy/web
  skiff rollout pause deploy/web && skiff set image deploy/web web=web:2 && skiff rollout resume deploy/web`,
	}
	cmd.AddCommand(newRolloutStatusCommand(e), newRolloutHistoryCommand(e), newRolloutUndoCommand(e),
		newRolloutRestartCommand(e), newRolloutPauseCommand(e, true), newRolloutPauseCommand(e, false))
	return cmd
}

// deploymentArg reads "deploy/NAME", "deployment/NAME" or "deploy NAME".
func deploymentArg(args []string) (string, error) {
	var kind, name string
	switch {
	case len(args) == 1 && strings.Contains(args[0], "/"):
		kind, name, _ = strings.Cut(args[0], "/")
	case len(args) == 2:
		kind, name = args[0], args[1]
	default:
		return "", errors.New("give the deployment as deploy/NAME")
	}
	info, err := parseKind(kind)
	if err != nil {
		return "", err
	}
	if info.Kind != skiffv1.Kind_KIND_DEPLOYMENT {
		return "", fmt.Errorf("a %s has no rollout: only deployments (deploy) do", info.Name)
	}
	if name == "" {
		return "", errors.New("the deployment's name is empty")
	}
	return name, nil
}

// ownedReplicaSets lists the replica sets dp controls, oldest revision
// first.
func ownedReplicaSets(ctx context.Context, c *client.Client, dp *skiffv1.Deployment) ([]*skiffv1.ReplicaSet, error) {
	all, _, err := c.ReplicaSets().List(ctx, client.ListOptions{Namespace: dp.GetMetadata().GetNamespace()})
	if err != nil {
		return nil, err
	}
	var out []*skiffv1.ReplicaSet
	for _, rs := range all {
		for _, r := range rs.GetMetadata().GetOwnerReferences() {
			if r.GetController() && r.GetUid() == dp.GetMetadata().GetUid() {
				out = append(out, rs)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return rollout.Revision(out[i]) < rollout.Revision(out[j]) })
	return out, nil
}

// withRevisions runs fn with the deployment and its replica sets.
func withRevisions(cmd *cobra.Command, e *env, name string, fn func(context.Context, *client.Client, *skiffv1.Deployment, []*skiffv1.ReplicaSet) error) error {
	return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
		dp, err := c.Deployments().Get(ctx, e.ns(), name)
		if err != nil {
			return err
		}
		sets, err := ownedReplicaSets(ctx, c, dp)
		if err != nil {
			return err
		}
		return fn(ctx, c, dp, sets)
	})
}

// statusMessage is kubectl's rollout status for one look at the
// deployment: a line to print, and whether the rollout is done.
func statusMessage(dp *skiffv1.Deployment) (string, bool, error) {
	name, st := dp.GetMetadata().GetName(), dp.GetStatus()
	if dp.GetMetadata().GetGeneration() > st.GetObservedGeneration() {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	for _, c := range st.GetConditions() {
		if c.GetType() == "Progressing" && c.GetReason() == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", name)
		}
	}
	desired := desiredReplicas(dp.GetSpec().Replicas)
	switch {
	case st.GetUpdatedReplicas() < desired:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", name, st.GetUpdatedReplicas(), desired), false, nil
	case st.GetReplicas() > st.GetUpdatedReplicas():
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", name, st.GetReplicas()-st.GetUpdatedReplicas()), false, nil
	case st.GetAvailableReplicas() < st.GetUpdatedReplicas():
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", name, st.GetAvailableReplicas(), st.GetUpdatedReplicas()), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", name), true, nil
}

func newRolloutStatusCommand(e *env) *cobra.Command {
	var timeout time.Duration
	watch := true
	cmd := &cobra.Command{
		Use:   "status deploy|ds|sts/NAME",
		Short: "Wait for a deployment's, daemon set's or stateful set's rollout to finish",
		Long: `Print the rollout's progress until every replica runs the current template
and is available. Fails when a deployment reports ProgressDeadlineExceeded, or
when --timeout passes. A daemon set or stateful set must use the RollingUpdate
strategy; a stateful set's partition is honoured, as kubectl does.`,
		Example: `  skiff rollout status deploy/web
  skiff rollout status ds/agent
  skiff rollout status sts/db
  skiff rollout status deploy/web --timeout 2m
  skiff rollout status deploy/web --watch=false   # one look, no waiting`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, name, err := rolloutStatusArg(args)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			if info.Kind != skiffv1.Kind_KIND_DEPLOYMENT {
				return waitWorkloadRollout(ctx, e, c, info, name, watch, cmd.OutOrStdout())
			}
			return waitRollout(ctx, e, c, name, watch, cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long to wait (0: until it finishes)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", true, "wait for the rollout to finish")
	return cmd
}

// waitRollout polls the deployment, printing each new progress line.
func waitRollout(ctx context.Context, e *env, c *client.Client, name string, watch bool, out io.Writer) error {
	last := ""
	for {
		cctx, cancel := e.call(ctx)
		dp, err := c.Deployments().Get(cctx, e.ns(), name)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("timed out waiting for the rollout of deployment %q", name)
			}
			return err
		}
		msg, done, err := statusMessage(dp)
		if err != nil {
			return err
		}
		if msg != last {
			fmt.Fprintln(out, msg)
			last = msg
		}
		if done || !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the rollout of deployment %q", name)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newRolloutHistoryCommand(e *env) *cobra.Command {
	var revision int64
	cmd := &cobra.Command{
		Use:   "history deploy/NAME",
		Short: "List a deployment's revisions, or show one",
		Long: `List the revisions a deployment keeps (spec.revisionHistoryLimit old ones and
the current one) with their change cause (the kubernetes.io/change-cause
annotation), or with --revision the pod template of one.`,
		Example: `  skiff rollout history deploy/web
  skiff rollout history deploy/web --revision 2`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := deploymentArg(args)
			if err != nil {
				return err
			}
			return withRevisions(cmd, e, name, func(ctx context.Context, c *client.Client, dp *skiffv1.Deployment, sets []*skiffv1.ReplicaSet) error {
				out := cmd.OutOrStdout()
				if revision > 0 {
					for _, rs := range sets {
						if rollout.Revision(rs) == revision {
							fmt.Fprintf(out, "deployment/%s with revision #%d\n", name, revision)
							d := newDescriber(out, e.now())
							d.podTemplate(rs.GetSpec().GetTemplate())
							return d.flush()
						}
					}
					return fmt.Errorf("unable to find the specified revision %d of deployment %q", revision, name)
				}
				fmt.Fprintf(out, "deployment/%s\n", name)
				tw := newTabWriter(out)
				fmt.Fprintln(tw, "REVISION\tCHANGE-CAUSE")
				for _, rs := range sets {
					if rollout.Revision(rs) == 0 {
						continue
					}
					fmt.Fprintf(tw, "%d\t%s\n", rollout.Revision(rs), orNone(rs.GetMetadata().GetAnnotations()[rollout.ChangeCauseAnnotation]))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "show the pod template of this revision")
	return cmd
}

func newRolloutUndoCommand(e *env) *cobra.Command {
	var toRevision int64
	cmd := &cobra.Command{
		Use:   "undo deploy/NAME",
		Short: "Roll a deployment back to its previous (or a given) revision",
		Long: `Put the pod template of an earlier revision back into the deployment, which
then rolls out to it as to any new template (that revision becomes the newest).`,
		Example: `  skiff rollout undo deploy/web
  skiff rollout undo deploy/web --to-revision 1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := deploymentArg(args)
			if err != nil {
				return err
			}
			return withRevisions(cmd, e, name, func(ctx context.Context, c *client.Client, dp *skiffv1.Deployment, sets []*skiffv1.ReplicaSet) error {
				if dp.GetSpec().GetPaused() {
					return fmt.Errorf("you cannot roll back a paused deployment; resume it first with 'skiff rollout resume deploy/%s' and try again", name)
				}
				target, err := undoTarget(sets, toRevision)
				if err != nil {
					return fmt.Errorf("deployment %q: %w", name, err)
				}
				tmpl := proto.Clone(target.GetSpec().GetTemplate()).(*skiffv1.PodTemplateSpec)
				delete(tmpl.GetMetadata().GetLabels(), rollout.HashLabel)
				if rollout.SameTemplate(dp.GetSpec().GetTemplate(), tmpl) {
					fmt.Fprintf(cmd.OutOrStdout(), "deployment/%s skipped rollback (current template already matches revision %d)\n", name, rollout.Revision(target))
					return nil
				}
				uid := dp.GetMetadata().GetUid()
				if _, err := c.Deployments().Modify(ctx, e.ns(), name, func(cur *skiffv1.Deployment) error {
					if cur.GetMetadata().GetUid() != uid {
						return errors.New("the deployment was replaced meanwhile")
					}
					cur.Spec.Template = tmpl
					return nil
				}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deployment/%s rolled back\n", name)
				return nil
			})
		},
	}
	cmd.Flags().Int64Var(&toRevision, "to-revision", 0, "the revision to roll back to (0: the previous one)")
	return cmd
}

// undoTarget is the replica set of revision want, or with want 0 the one
// before the newest.
func undoTarget(sets []*skiffv1.ReplicaSet, want int64) (*skiffv1.ReplicaSet, error) {
	if want > 0 {
		for _, rs := range sets {
			if rollout.Revision(rs) == want {
				return rs, nil
			}
		}
		return nil, fmt.Errorf("unable to find the specified revision %d", want)
	}
	var revised []*skiffv1.ReplicaSet
	for _, rs := range sets {
		if rollout.Revision(rs) > 0 {
			revised = append(revised, rs)
		}
	}
	if len(revised) < 2 {
		return nil, errors.New("no previous revision to roll back to")
	}
	return revised[len(revised)-2], nil
}

func newRolloutRestartCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "restart deploy/NAME|ds/NAME|sts/NAME",
		Short: "Replace every pod of a deployment, daemon set or stateful set, by a rollout",
		Long: `Set the kubectl.kubernetes.io/restartedAt annotation of the workload's pod
template to now: the template changes, so its pods are replaced by a rollout
that keeps the update strategy's availability (a daemon set or stateful set
with the OnDelete strategy replaces a pod only when it is deleted).`,
		Example: `  skiff rollout restart deploy/web
  skiff rollout restart ds/log-agent`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, name, err := rolloutStatusArg(args)
			if err != nil {
				return err
			}
			now := e.now().UTC().Format(time.RFC3339)
			return modifyTemplate(cmd, e, info, name, "restarted", func(owner skiffv1.Resource, t *skiffv1.PodTemplateSpec) error {
				if dp, ok := owner.(*skiffv1.Deployment); ok && dp.GetSpec().GetPaused() {
					return fmt.Errorf("cannot restart paused deployment %q (run 'skiff rollout resume deploy/%s' first)", name, name)
				}
				if t.Metadata == nil {
					t.Metadata = &skiffv1.ObjectMeta{}
				}
				if t.Metadata.Annotations == nil {
					t.Metadata.Annotations = map[string]string{}
				}
				t.Metadata.Annotations[rollout.RestartedAtAnnotation] = now
				return nil
			})
		},
	}
}

// modifyTemplate changes the pod template of a deployment, daemon set or
// stateful set (info, as rolloutStatusArg gives it) and says what it did.
func modifyTemplate(cmd *cobra.Command, e *env, info skiffv1.KindInfo, name, what string, change func(owner skiffv1.Resource, t *skiffv1.PodTemplateSpec) error) error {
	return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
		var err error
		ns := e.ns()
		// An object without a template gets one, for the change to fill
		// in and validation to judge.
		template := func(t **skiffv1.PodTemplateSpec) *skiffv1.PodTemplateSpec {
			if *t == nil {
				*t = &skiffv1.PodTemplateSpec{}
			}
			return *t
		}
		switch info.Kind {
		case skiffv1.Kind_KIND_DEPLOYMENT:
			_, err = c.Deployments().Modify(ctx, ns, name, func(o *skiffv1.Deployment) error {
				if o.Spec == nil {
					o.Spec = &skiffv1.DeploymentSpec{}
				}
				return change(o, template(&o.Spec.Template))
			})
		case skiffv1.Kind_KIND_DAEMON_SET:
			_, err = c.DaemonSets().Modify(ctx, ns, name, func(o *skiffv1.DaemonSet) error {
				if o.Spec == nil {
					o.Spec = &skiffv1.DaemonSetSpec{}
				}
				return change(o, template(&o.Spec.Template))
			})
		case skiffv1.Kind_KIND_STATEFUL_SET:
			_, err = c.StatefulSets().Modify(ctx, ns, name, func(o *skiffv1.StatefulSet) error {
				if o.Spec == nil {
					o.Spec = &skiffv1.StatefulSetSpec{}
				}
				return change(o, template(&o.Spec.Template))
			})
		default:
			return fmt.Errorf("a %s has no pod template to roll out", info.Name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", slashName(info, name), what)
		return nil
	})
}

func newRolloutPauseCommand(e *env, pause bool) *cobra.Command {
	verb, done, long := "resume", "resumed", "Start rolling out again: the changes made while paused roll out as one."
	if pause {
		verb, done, long = "pause", "paused", `Stop rolling out: changes to the pod template make no new revision until the
deployment is resumed (a changed replica count still scales it).`
	}
	return &cobra.Command{
		Use:     verb + " deploy/NAME",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " a deployment's rollout",
		Long:    long,
		Example: "  skiff rollout " + verb + " deploy/web",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := deploymentArg(args)
			if err != nil {
				return err
			}
			return modifyDeployment(cmd, e, name, done, func(dp *skiffv1.Deployment) error {
				if dp.GetSpec().GetPaused() == pause {
					return fmt.Errorf("deployment %q is already %s", name, done)
				}
				dp.Spec.Paused = pause
				return nil
			})
		},
	}
}

// modifyDeployment changes a deployment and prints "deployment/NAME what".
func modifyDeployment(cmd *cobra.Command, e *env, name, what string, change func(*skiffv1.Deployment) error) error {
	return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
		if _, err := c.Deployments().Modify(ctx, e.ns(), name, change); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "deployment/%s %s\n", name, what)
		return nil
	})
}

func newSetCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "set SUBCOMMAND",
		Short:   "Change one field of an object",
		Example: "  skiff set image deploy/web web=registry.local/web:2",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "image deploy/NAME|ds/NAME|sts/NAME CONTAINER=IMAGE...",
		Short: "Set the image of a workload's containers, which starts a rollout",
		Long: `Set the image of containers of a deployment's, daemon set's or stateful set's
pod template, by container name ("*" for every container). The new template
rolls out as the workload's update strategy says; follow it with
'skiff rollout status'.`,
		Example: `  skiff set image deploy/web web=registry.local/web:2
  skiff set image deploy/web '*=busybox:1.37'
  skiff set image sts/db db=postgres:17`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, name, err := rolloutStatusArg(args[:1])
			if err != nil {
				return err
			}
			images := map[string]string{}
			for _, a := range args[1:] {
				c, img, ok := strings.Cut(a, "=")
				if !ok || c == "" || img == "" {
					return fmt.Errorf("%q: give CONTAINER=IMAGE", a)
				}
				images[c] = img
			}
			return modifyTemplate(cmd, e, info, name, "image updated", func(_ skiffv1.Resource, t *skiffv1.PodTemplateSpec) error {
				return setImages(t.GetSpec(), images)
			})
		},
	})
	return cmd
}

// setImages sets the images of the named containers ("*": all of them).
func setImages(spec *skiffv1.PodSpec, images map[string]string) error {
	found := map[string]bool{}
	for _, c := range spec.GetContainers() {
		if img, ok := images[c.GetName()]; ok {
			c.Image = img
			found[c.GetName()] = true
		} else if img, ok := images["*"]; ok {
			c.Image = img
			found["*"] = true
		}
	}
	for name := range images {
		if !found[name] {
			return fmt.Errorf("unable to find container named %q", name)
		}
	}
	return nil
}
