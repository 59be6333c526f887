package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type deleteOpts struct {
	src            fileFlags
	labelSel       string
	allNamespaces  bool
	force          bool
	gracePeriod    int64
	wait           bool
	timeout        time.Duration
	cascade        string
	ignoreNotFound bool
	all            bool
}

// target is one object to delete.
type target struct {
	info skiffv1.KindInfo
	ns   string
	name string
}

func (t target) String() string { return quotedName(t.info, t.name) }

func newDeleteCommand(e *env) *cobra.Command {
	o := &deleteOpts{}
	cmd := &cobra.Command{
		Use:   "delete KIND NAME... | KIND/NAME... | -f FILE | KIND -l SELECTOR",
		Short: "Delete objects by name, by label selector, or as a manifest names them",
		Long: `Delete objects. A pod running on a node is deleted gracefully: it is marked,
its node stops it (SIGTERM, then SIGKILL after the grace period) and then
it goes. --wait waits until that has happened; --force removes the object at
once without waiting for the node (the containers may still be running).

Deleting a namespace deletes everything in it. Objects owned by a deleted
one (the pods of a replica set) go too, unless --cascade=orphan.`,
		Example: `  skiff delete pod web
  skiff delete po web db --wait            # and wait until they are really gone
  skiff delete -f web.yaml                 # what the manifest describes
  skiff delete pods -l app=web             # by label
  skiff delete pods --all -A               # every pod in every namespace
  skiff delete rs web --cascade=orphan     # keep the replica set's pods
  skiff delete pod stuck --force           # do not wait for the node
  skiff delete namespace team`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd, e, o, args)
		},
	}
	f := cmd.Flags()
	o.src.add(cmd)
	f.StringVarP(&o.labelSel, "selector", "l", "", "delete the objects of KIND whose labels match, e.g. app=web")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "with -l: match in every namespace")
	f.BoolVar(&o.force, "force", false, "remove at once, without waiting for the node to stop the pod")
	f.Int64Var(&o.gracePeriod, "grace-period", -1, "seconds a pod gets to stop before SIGKILL (-1: the pod's own; 0: at once)")
	f.BoolVar(&o.wait, "wait", false, "wait until the objects are really gone")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "with --wait: give up after this long")
	f.StringVar(&o.cascade, "cascade", "background", "what happens to the objects these own: background (deleted too) or orphan (kept)")
	f.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "treat objects that do not exist as deleted")
	f.BoolVar(&o.all, "all", false, "delete every object of KIND in the namespace (every namespace with -A)")
	return cmd
}

func runDelete(cmd *cobra.Command, e *env, o *deleteOpts, args []string) error {
	var propagation string
	switch strings.ToLower(o.cascade) {
	case "background", "true":
		propagation = "Background"
	case "orphan", "false":
		propagation = "Orphan"
	default:
		return fmt.Errorf("--cascade=%s: use background or orphan", o.cascade)
	}
	if o.gracePeriod < -1 {
		return errors.New("--grace-period must be -1 (the pod's own) or at least 0")
	}
	targets, err := deleteTargets(cmd, e, o, args)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "No resources found")
		return nil
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	req := client.DeleteOptions{Force: o.force, Propagation: propagation}
	if o.gracePeriod >= 0 {
		req.GracePeriodSeconds = &o.gracePeriod
	}
	out := cmd.OutOrStdout()
	var failed []error
	type pending struct {
		t   target
		obj skiffv1.Resource
	}
	var waits []pending
	for _, t := range targets {
		ctx, cancel := e.call(cmd.Context())
		resp, err := c.API().Delete(ctx, &skiffv1.DeleteRequest{
			Kind: t.info.Kind, Namespace: nsFor(t.info, t.ns), Name: t.name,
			Force: req.Force, GracePeriodSeconds: req.GracePeriodSeconds, Propagation: req.Propagation,
		})
		cancel()
		switch {
		case client.IsNotFound(err) && o.ignoreNotFound:
			continue
		case isConnectionError(err):
			return err
		case err != nil:
			failed = append(failed, apiErr(err))
			continue
		}
		if resp.Deleted || !o.wait {
			fmt.Fprintf(out, "%s deleted\n", t)
			continue
		}
		waits = append(waits, pending{t, resp.Object.Unwrap()})
	}
	for _, w := range waits {
		if err := waitGone(cmd, e, c, w.t, w.obj, o.timeout); err != nil {
			if isConnectionError(err) {
				return err
			}
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(out, "%s deleted\n", w.t)
	}
	return errors.Join(failed...)
}

// deleteTargets resolves what to delete from names, a selector or manifests.
func deleteTargets(cmd *cobra.Command, e *env, o *deleteOpts, args []string) ([]target, error) {
	ns := e.ns()
	switch {
	case len(o.src.files) > 0:
		if len(args) > 0 || o.labelSel != "" {
			return nil, errors.New("with -f, give no KIND, names or -l: the manifest names the objects")
		}
		objs, err := o.src.read(cmd)
		if err != nil {
			return nil, err
		}
		var out []target
		for _, m := range objs {
			t := target{info: m.Info, ns: m.Obj.GetMetadata().GetNamespace(), name: m.Name()}
			if t.ns == "" {
				t.ns = ns
			}
			if t.name == "" {
				return nil, fmt.Errorf("%s: metadata.name is missing, so there is nothing to delete", m)
			}
			out = append(out, t)
		}
		return out, nil
	case len(args) == 0:
		return nil, errors.New("say what to delete: KIND NAME..., KIND -l SELECTOR, or -f FILE; see 'skiff delete --help'")
	}
	groups, err := slashGroups(args)
	if err != nil {
		return nil, err
	}
	if groups != nil {
		if o.labelSel != "" || o.all {
			return nil, errors.New("give names, or -l SELECTOR or --all, not both")
		}
		var out []target
		for _, g := range groups {
			info, err := parseKind(g.kind)
			if err != nil {
				return nil, err
			}
			for _, n := range g.names {
				out = append(out, target{info: info, ns: ns, name: n})
			}
		}
		return out, nil
	}
	info, err := parseKind(args[0])
	if err != nil {
		return nil, err
	}
	names := args[1:]
	if o.labelSel != "" || o.all {
		if len(names) > 0 {
			return nil, errors.New("give names, or -l SELECTOR or --all, not both")
		}
		c, err := e.client()
		if err != nil {
			return nil, err
		}
		if o.allNamespaces {
			ns = ""
		}
		objs, _, err := listEvery(cmd, e, c, info, ns, o.labelSel, "", client.DefaultChunkSize)
		if err != nil {
			return nil, err
		}
		var out []target
		for _, obj := range objs {
			out = append(out, target{info: info, ns: obj.GetMetadata().GetNamespace(), name: obj.GetMetadata().GetName()})
		}
		return out, nil
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("which %s? give their names, or -l SELECTOR", info.Plural)
	}
	var out []target
	for _, n := range names {
		out = append(out, target{info: info, ns: ns, name: n})
	}
	return out, nil
}

// waitGone waits for the DELETED event of an object whose graceful deletion
// began, watching from the revision the deletion wrote, so that nothing in
// between is missed. Progress goes to stderr.
func waitGone(cmd *cobra.Command, e *env, c *client.Client, t target, obj skiffv1.Resource, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	m := obj.GetMetadata()
	start := e.now()
	progress(cmd, "waiting for %s to be deleted (its node stops it within %ds)...", t, m.GetDeletionGracePeriodSeconds())
	stream, err := c.API().Watch(ctx, &skiffv1.WatchRequest{
		Kind: t.info.Kind, Namespace: nsFor(t.info, t.ns),
		FieldSelector: "metadata.name=" + t.name, ResourceVersion: m.GetResourceVersion(),
	})
	if err != nil {
		// Opening the watch can itself outlast a short --timeout on a
		// busy server; that is still the wait running out.
		if ranOut(ctx, err) {
			return timeoutErr(t, timeout)
		}
		return apiErr(err)
	}
	events := make(chan error, 1)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				events <- err
				return
			}
			if ev.Type == skiffv1.WatchEvent_DELETED {
				events <- nil
				return
			}
		}
	}()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-events:
			switch {
			case err == nil:
				return nil
			case ranOut(ctx, err):
				return timeoutErr(t, timeout)
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, io.EOF):
				return fmt.Errorf("%s: the server ended the watch; check with `skiff get %s %s`", t, t.info.Plural, t.name)
			}
			return apiErr(err)
		case <-tick.C:
			progress(cmd, "still waiting for %s (%s)", t, humanDuration(e.now().Sub(start)))
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return timeoutErr(t, timeout)
			}
			return ctx.Err()
		}
	}
}

// ranOut reports whether err means the wait's own deadline passed. The
// server's copy of that deadline can end the watch a moment before the
// client's timer has fired, so the status code counts as well.
func ranOut(ctx context.Context, err error) bool {
	return ctx.Err() == context.DeadlineExceeded || status.Code(err) == codes.DeadlineExceeded
}

func timeoutErr(t target, timeout time.Duration) error {
	return fmt.Errorf("%s is still being deleted after %s: its node has not confirmed that it stopped; check the node (skiff get nodes), or remove the object with --force", t, timeout)
}
