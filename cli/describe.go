package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newDescribeCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe KIND NAME... | KIND/NAME...",
		Short: "Show an object in detail: spec, status, conditions and recent events",
		Long: `Show objects in detail for people: what was asked for, what was observed,
the conditions, and the events recorded about them (scheduling, image pulls,
restarts…). For a machine-readable form, use ` + "`skiff get KIND NAME -o yaml`.",
		Example: `  skiff describe pod web
  skiff describe node node1
  skiff describe svc web -n team
  skiff describe rs web
  skiff describe deploy/web`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			groups, err := slashGroups(args)
			if err != nil {
				return err
			}
			if groups == nil {
				if len(args) < 2 {
					return fmt.Errorf("name what to describe: skiff describe %s NAME", args[0])
				}
				groups = []kindNames{{kind: args[0], names: args[1:]}}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			first := true
			for _, g := range groups {
				info, err := parseKind(g.kind)
				if err != nil {
					return err
				}
				for _, name := range g.names {
					if !first {
						fmt.Fprintln(cmd.OutOrStdout())
					}
					first = false
					if err := describeOne(cmd, e, c, info, name); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	return cmd
}

// describeOne reads the object, then its events page by page, then what
// its kind's description adds, each read under --request-timeout of its
// own: a namespace's events can outlast one timeout on a busy server.
func describeOne(cmd *cobra.Command, e *env, c *client.Client, info skiffv1.KindInfo, name string) error {
	obj, err := callWith(cmd, e, func(ctx context.Context) (skiffv1.Resource, error) {
		return getObject(ctx, c, info, e.ns(), name)
	})
	if err != nil {
		return err
	}
	var events []skiffv1.Resource
	if info.Kind != skiffv1.Kind_KIND_EVENT {
		evInfo, _ := skiffv1.Info(skiffv1.Kind_KIND_EVENT)
		sel := fmt.Sprintf("involvedObject.name=%s,involvedObject.kind=%s", name, info.Name)
		// Events about objects outside namespaces may be filed anywhere.
		events, _, err = listEvery(cmd, e, c, evInfo, obj.GetMetadata().GetNamespace(), "", sel, client.DefaultChunkSize)
		if err != nil {
			return err
		}
		sortEvents(events)
	}
	d := newDescriber(cmd.OutOrStdout(), e.now())
	if dp, ok := obj.(*skiffv1.Deployment); ok {
		d.sets, err = callWith(cmd, e, func(ctx context.Context) ([]*skiffv1.ReplicaSet, error) {
			return ownedReplicaSets(ctx, c, dp)
		})
		if err != nil {
			return err
		}
	}
	if info.Kind == skiffv1.Kind_KIND_SERVICE {
		d.endpoints, err = callWith(cmd, e, func(ctx context.Context) (*skiffv1.Endpoints, error) {
			ep, err := c.Endpoints().Get(ctx, obj.GetMetadata().GetNamespace(), name)
			if client.IsNotFound(err) {
				return nil, nil
			}
			return ep, apiErr(err)
		})
		if err != nil {
			return err
		}
	}
	d.describe(obj)
	if info.Kind != skiffv1.Kind_KIND_EVENT {
		d.events(events)
	}
	return d.flush()
}

// describer writes kubectl-style "Key:  value" blocks, indented by level,
// aligned by one tabwriter (a line without tabs ends an alignment block).
type describer struct {
	tw  *tabwriter.Writer
	now time.Time
	// sets are the replica sets of a described deployment.
	sets []*skiffv1.ReplicaSet
	// endpoints is the described service's Endpoints object, if any.
	endpoints *skiffv1.Endpoints
}

func newDescriber(w io.Writer, now time.Time) *describer {
	return &describer{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0), now: now}
}

func (d *describer) flush() error { return d.tw.Flush() }

// kv writes "Key:\tvalue" at a level of indentation.
func (d *describer) kv(level int, key string, value any) {
	fmt.Fprintf(d.tw, "%s%s:\t%v\n", strings.Repeat("  ", level), key, value)
}

// head writes a section title, "Containers:".
func (d *describer) head(level int, title string) {
	fmt.Fprintf(d.tw, "%s%s:\n", strings.Repeat("  ", level), title)
}

// row writes a tab-separated table row at a level.
func (d *describer) row(level int, cols ...string) {
	fmt.Fprintf(d.tw, "%s%s\n", strings.Repeat("  ", level), strings.Join(cols, "\t"))
}

// mapping writes labels, selectors and such one per line, or <none>.
func (d *describer) mapping(level int, key string, m map[string]string) {
	if len(m) == 0 {
		d.kv(level, key, "<none>")
		return
	}
	for i, kv := range strings.Split(formatMap(m), ",") {
		if i == 0 {
			d.kv(level, key, kv)
		} else {
			fmt.Fprintf(d.tw, "%s\t%s\n", strings.Repeat("  ", level), kv)
		}
	}
}

// time writes an absolute time in the clock's zone and how long ago it was.
func (d *describer) time(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "<unknown>"
	}
	t := ts.AsTime().In(d.now.Location())
	return fmt.Sprintf("%s (%s ago)", t.Format(time.RFC1123Z), humanDuration(d.now.Sub(t)))
}

func (d *describer) meta(m *skiffv1.ObjectMeta, namespaced bool) {
	d.kv(0, "Name", m.GetName())
	if namespaced {
		d.kv(0, "Namespace", m.GetNamespace())
	}
	d.mapping(0, "Labels", m.GetLabels())
	d.mapping(0, "Annotations", m.GetAnnotations())
	d.kv(0, "Created", d.time(m.GetCreationTimestamp()))
	if m.GetDeletionTimestamp() != nil {
		// The deletion timestamp is when the grace period ends.
		d.kv(0, "Deleting", fmt.Sprintf("by %s (grace period %ds)",
			m.GetDeletionTimestamp().AsTime().In(d.now.Location()).Format(time.RFC1123Z), m.GetDeletionGracePeriodSeconds()))
	}
	for _, o := range m.GetOwnerReferences() {
		if o.GetController() {
			d.kv(0, "Controlled By", o.GetKind()+"/"+o.GetName())
		}
	}
	if len(m.GetFinalizers()) > 0 {
		d.kv(0, "Finalizers", strings.Join(m.GetFinalizers(), ", "))
	}
}

func (d *describer) conditions(conds []*skiffv1.Condition) {
	if len(conds) == 0 {
		d.kv(0, "Conditions", "<none>")
		return
	}
	d.head(0, "Conditions")
	d.row(1, "Type", "Status", "Reason", "Since", "Message")
	d.row(1, "----", "------", "------", "-----", "-------")
	for _, c := range conds {
		d.row(1, c.GetType(), c.GetStatus(), orDash(c.GetReason()), sinceOrDash(c.GetLastTransitionTime(), d.now), orDash(oneLine(c.GetMessage())))
	}
}

// events writes the recent events table, as the end of every description.
func (d *describer) events(events []skiffv1.Resource) {
	if len(events) == 0 {
		d.kv(0, "Events", "<none>")
		return
	}
	d.head(0, "Events")
	d.row(1, "Type", "Reason", "Age", "From", "Message")
	d.row(1, "----", "------", "----", "----", "-------")
	for _, o := range events {
		ev := o.(*skiffv1.Event)
		a := age(eventTime(ev), d.now)
		if ev.GetCount() > 1 && ev.GetFirstTimestamp() != nil {
			a = fmt.Sprintf("%s (x%d over %s)", a, ev.GetCount(), age(ev.GetFirstTimestamp(), d.now))
		}
		d.row(1, ev.GetType(), ev.GetReason(), a, orDash(ev.GetSource()), oneLine(ev.GetMessage()))
	}
}

func (d *describer) describe(obj skiffv1.Resource) {
	info, _ := skiffv1.Info(skiffv1.KindOf(obj))
	d.meta(obj.GetMetadata(), info.Namespaced)
	switch o := obj.(type) {
	case *skiffv1.Pod:
		d.pod(o)
	case *skiffv1.Node:
		d.node(o)
	case *skiffv1.Service:
		d.service(o)
	case *skiffv1.Volume:
		d.volume(o)
	case *skiffv1.PersistentVolume:
		d.persistentVolume(o)
	case *skiffv1.ReplicaSet:
		d.replicaSet(o)
	case *skiffv1.ReplicationController:
		d.replicationController(o)
	case *skiffv1.Deployment:
		d.deployment(o)
	case *skiffv1.Autoscaler:
		d.autoscaler(o)
	case *skiffv1.ConfigMap:
		d.configMap(o)
	case *skiffv1.Secret:
		d.secret(o)
	case *skiffv1.Endpoints:
		d.endpointSlices(o)
	case *skiffv1.Job:
		d.job(o)
	case *skiffv1.CronJob:
		d.cronJob(o)
	case *skiffv1.DaemonSet:
		d.daemonSet(o)
	case *skiffv1.StatefulSet:
		d.statefulSet(o)
	case *skiffv1.Namespace:
		d.kv(0, "Status", orUnknown(o.GetStatus().GetPhase()))
	case *skiffv1.Lease:
		s := o.GetSpec()
		d.kv(0, "Holder Identity", orNone(s.GetHolderIdentity()))
		d.kv(0, "Lease Duration Seconds", s.GetLeaseDurationSeconds())
		d.kv(0, "Acquire Time", d.time(s.GetAcquireTime()))
		d.kv(0, "Renew Time", d.time(s.GetRenewTime()))
		d.kv(0, "Lease Transitions", s.GetLeaseTransitions())
	case *skiffv1.Event:
		ref := o.GetInvolvedObject()
		d.kv(0, "Object", strings.ToLower(ref.GetKind())+"/"+ref.GetName())
		d.kv(0, "Type", o.GetType())
		d.kv(0, "Reason", o.GetReason())
		d.kv(0, "Message", oneLine(o.GetMessage()))
		d.kv(0, "Source", orNone(o.GetSource()))
		d.kv(0, "Count", max(o.GetCount(), 1))
		d.kv(0, "First Seen", d.time(o.GetFirstTimestamp()))
		d.kv(0, "Last Seen", d.time(eventTime(o)))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sinceOrDash(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "-"
	}
	return age(ts, now)
}

// callWith runs one call under --request-timeout.
func callWith[T any](cmd *cobra.Command, e *env, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := e.call(cmd.Context())
	defer cancel()
	return call(ctx)
}
