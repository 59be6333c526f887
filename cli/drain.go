package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type drainOpts struct {
	ignoreDaemonSets bool
	deleteEmptyDir   bool
	force            bool
	gracePeriod      int64
	timeout          time.Duration
	podSelector      string
	dryRun           string
}

func newDrainCommand(e *env) *cobra.Command {
	o := &drainOpts{}
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Cordon a node and move its pods elsewhere, for maintenance",
		Long: `Drain cordons NODE, then deletes its pods (gracefully, as an eviction does)
and waits until they are gone, so that their controllers start them elsewhere.
As kubectl drain, it refuses, and deletes nothing, while the node has pods it
should not remove silently:

  - pods a DaemonSet runs (they would come straight back): --ignore-daemonsets
    leaves them running;
  - pods no controller owns (nothing would start them again): --force deletes
    them;
  - pods with emptyDir volumes (their data goes with them):
    --delete-emptydir-data.

Pods that have finished are deleted without question. skiff uncordon NODE
lets pods land on the node again.`,
		Example: `  skiff drain worker-2 --ignore-daemonsets
  skiff drain worker-2 --ignore-daemonsets --delete-emptydir-data --timeout 5m
  skiff drain worker-2 --dry-run=client      # list what would be evicted
  skiff uncordon worker-2                    # after the maintenance`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.dryRun != "" && o.dryRun != "none" && o.dryRun != "client" {
				return fmt.Errorf("--dry-run: %q is not one of none, client", o.dryRun)
			}
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				return drain(cmd, e, c, args[0], o)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ignoreDaemonSets, "ignore-daemonsets", false, "leave the pods of DaemonSets running")
	f.BoolVar(&o.deleteEmptyDir, "delete-emptydir-data", false, "delete pods with emptyDir volumes too (their data is lost)")
	f.BoolVar(&o.force, "force", false, "delete pods that no controller owns too (nothing recreates them)")
	f.Int64Var(&o.gracePeriod, "grace-period", -1, "seconds each pod gets to stop (-1: the pod's own terminationGracePeriodSeconds)")
	f.DurationVar(&o.timeout, "timeout", 0, "give up after this long (0: wait as long as it takes)")
	f.StringVar(&o.podSelector, "pod-selector", "", "drain only the pods matching this label selector")
	f.StringVar(&o.dryRun, "dry-run", "", "client: print what would be evicted, change nothing")
	return cmd
}

func drain(cmd *cobra.Command, e *env, c *client.Client, node string, o *drainOpts) error {
	out := cmd.OutOrStdout()
	dry := o.dryRun == "client"
	ctx, cancel := e.call(cmd.Context())
	defer cancel()
	if dry {
		if _, err := c.Nodes().Get(ctx, "", node); err != nil {
			return apiErr(err)
		}
		fmt.Fprintf(out, "node/%s cordoned (dry run)\n", node)
	} else {
		changed, err := setUnschedulable(ctx, c, node, true)
		if err != nil {
			return apiErr(err)
		}
		fmt.Fprintf(out, "node/%s %s\n", node, map[bool]string{true: "cordoned", false: "already cordoned"}[changed])
	}
	pods, _, err := c.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=" + node, LabelSelector: o.podSelector})
	if err != nil {
		return apiErr(err)
	}
	evict, problems, warnings := sortForDrain(pods, o)
	if len(problems) > 0 {
		return fmt.Errorf("node %s stays cordoned, nothing was evicted:\n  %s", node, strings.Join(problems, "\n  "))
	}
	for _, w := range warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s\n", w)
	}
	if dry {
		for _, p := range evict {
			fmt.Fprintf(out, "evicting pod %s/%s (dry run)\n", p.Metadata.Namespace, p.Metadata.Name)
		}
		fmt.Fprintf(out, "node/%s drained (dry run)\n", node)
		return nil
	}
	if err := evictAll(cmd, e, c, evict, o); err != nil {
		return fmt.Errorf("%w\nnode %s stays cordoned; run skiff drain again to finish", err, node)
	}
	fmt.Fprintf(out, "node/%s drained\n", node)
	return nil
}

// sortForDrain splits a node's pods, as kubectl drain's filters do, into
// those to evict, refusals (one line each, naming the flag that lifts
// it) and warnings about what the flags let through or left.
func sortForDrain(pods []*skiffv1.Pod, o *drainOpts) (evict []*skiffv1.Pod, problems, warnings []string) {
	var daemons, unowned, emptyDirs, leftDaemons, forced []string
	for _, p := range pods {
		name := p.Metadata.Namespace + "/" + p.Metadata.Name
		if p.Metadata.DeletionTimestamp != nil {
			continue // already going
		}
		if phase := p.GetStatus().GetPhase(); phase == "Succeeded" || phase == "Failed" {
			evict = append(evict, p)
			continue
		}
		owner := controllerOf(p)
		if owner.GetKind() == "DaemonSet" {
			if o.ignoreDaemonSets {
				leftDaemons = append(leftDaemons, name)
			} else {
				daemons = append(daemons, name)
			}
			continue
		}
		ok := true
		if owner == nil {
			if o.force {
				forced = append(forced, name)
			} else {
				unowned = append(unowned, name)
				ok = false
			}
		}
		if usesEmptyDir(p) && !o.deleteEmptyDir {
			emptyDirs = append(emptyDirs, name)
			ok = false
		}
		if ok {
			evict = append(evict, p)
		}
	}
	add := func(to *[]string, names []string, what string) {
		if len(names) > 0 {
			*to = append(*to, what+": "+strings.Join(names, ", "))
		}
	}
	add(&problems, daemons, "cannot delete DaemonSet-managed pods (use --ignore-daemonsets to leave them running)")
	add(&problems, unowned, "cannot delete pods that declare no controller (use --force to delete them)")
	add(&problems, emptyDirs, "cannot delete pods with local storage (use --delete-emptydir-data to delete them)")
	add(&warnings, leftDaemons, "ignoring DaemonSet-managed pods")
	add(&warnings, forced, "deleting pods that declare no controller")
	return evict, problems, warnings
}

func controllerOf(p *skiffv1.Pod) *skiffv1.OwnerReference {
	for _, r := range p.GetMetadata().GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}

func usesEmptyDir(p *skiffv1.Pod) bool {
	for _, v := range p.GetSpec().GetVolumes() {
		if v.GetEmptyDir() != nil {
			return true
		}
	}
	return false
}

// evictAll deletes the pods at once and waits for each to be gone.
func evictAll(cmd *cobra.Command, e *env, c *client.Client, pods []*skiffv1.Pod, o *drainOpts) error {
	timeout := o.timeout
	if timeout <= 0 {
		timeout = 365 * 24 * time.Hour
	}
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_POD)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed []error
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(cmd.OutOrStdout(), format+"\n", args...)
	}
	for _, p := range pods {
		m := p.Metadata
		report("evicting pod %s/%s", m.Namespace, m.Name)
		req := &skiffv1.DeleteRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: m.Namespace, Name: m.Name, Uid: m.Uid}
		if o.gracePeriod >= 0 {
			req.GracePeriodSeconds = &o.gracePeriod
		}
		ctx, cancel := e.call(cmd.Context())
		resp, err := c.API().Delete(ctx, req)
		cancel()
		if client.IsNotFound(err) {
			report("pod/%s evicted", m.Name)
			continue
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("evict pod %s/%s: %w", m.Namespace, m.Name, apiErr(err)))
			continue
		}
		if resp.Deleted {
			report("pod/%s evicted", m.Name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := target{info: info, ns: m.Namespace, name: m.Name}
			if err := waitGone(cmd, e, c, t, resp.Object.Unwrap(), timeout); err != nil {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
				return
			}
			report("pod/%s evicted", m.Name)
		}()
	}
	wg.Wait()
	return errors.Join(failed...)
}
