package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/rollout"
	"github.com/skiff-sh/skiff/intorpercent"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// RevisionHashLabel on a DaemonSet's or StatefulSet's pods names the
// version of the template they were made from, as in Kubernetes.
const RevisionHashLabel = "controller-revision-hash"

// daemonNode is one node's share of a DaemonSet: whether it should run the
// pod, and the pods there.
type daemonNode struct {
	name      string
	run, keep bool
	pods      []*skiffv1.Pod // active, oldest first
}

// sync makes each node's daemon pods what they should be, one step of the
// rolling update at a time, and writes the status.
func (dc *daemonSets) sync(ctx context.Context, key string) error {
	ds, ok := dc.dss.Get(key)
	if !ok {
		dc.exp.forget(key)
		return nil
	}
	if ds.GetMetadata().GetDeletionTimestamp() != nil {
		return nil // the garbage collector removes its pods
	}
	hash := rollout.TemplateHash(ds.GetSpec().GetTemplate(), 0)
	minReady := time.Duration(ds.GetSpec().GetMinReadySeconds()) * time.Second
	now := time.Now()
	manage := dc.exp.satisfied(key)

	nodes := map[string]*daemonNode{}
	for _, n := range dc.nodes.List() {
		run, keep := nodePlacement(ds.GetSpec().GetTemplate().GetSpec(), n)
		nodes[n.GetMetadata().GetName()] = &daemonNode{name: n.GetMetadata().GetName(), run: run, keep: keep}
	}
	var del []*skiffv1.Pod
	for _, p := range dc.pods.ByIndex(indexOwner, ds.GetMetadata().GetUid()) {
		if ref := controllerRef(p.GetMetadata()); ref == nil || ref.GetUid() != ds.GetMetadata().GetUid() || p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if skiffv1.IsPodTerminal(p) {
			// A daemon pod that failed is replaced, as Kubernetes does.
			del = append(del, p)
			continue
		}
		n := nodes[daemonPodNode(p)]
		if n == nil {
			del = append(del, p) // its node is gone
			continue
		}
		n.pods = append(n.pods, p)
	}
	names := make([]string, 0, len(nodes))
	for name, n := range nodes {
		names = append(names, name)
		sort.Slice(n.pods, func(i, j int) bool {
			return n.pods[i].GetMetadata().GetCreationTimestamp().AsTime().Before(n.pods[j].GetMetadata().GetCreationTimestamp().AsTime())
		})
	}
	sort.Strings(names)

	var create []string
	if manage {
		create, del = dc.plan(ds, hash, names, nodes, minReady, now, del)
	}
	var manageErr error
	if len(create) > 0 || len(del) > 0 {
		manageErr = dc.apply(ctx, key, ds, hash, create, del)
	}
	return errors.Join(manageErr, dc.updateStatus(ctx, ds, hash, names, nodes, minReady, now))
}

// plan decides which nodes get a new pod and which pods go: misscheduled
// and duplicate pods, and the old pods the update strategy lets go now.
func (dc *daemonSets) plan(ds *skiffv1.DaemonSet, hash string, names []string, nodes map[string]*daemonNode, minReady time.Duration, now time.Time, del []*skiffv1.Pod) (create []string, _ []*skiffv1.Pod) {
	st := ds.GetSpec().GetUpdateStrategy()
	rolling := st.GetType() != "OnDelete"
	desired := 0
	for _, name := range names {
		if nodes[name].run || (nodes[name].keep && len(nodes[name].pods) > 0) {
			desired++
		}
	}
	surgeV, _ := intorpercent.Parse(st.GetRollingUpdate().GetMaxSurge())
	unavailV, _ := intorpercent.Parse(st.GetRollingUpdate().GetMaxUnavailable())
	maxSurge := surgeV.Of(desired, true)
	maxUnavailable := unavailV.Of(desired, true)
	if maxSurge == 0 && maxUnavailable == 0 {
		maxUnavailable = 1
	}

	unavailable := 0
	var oldAvailable []*skiffv1.Pod // candidates to replace, by node name order
	surging := 0
	for _, name := range names {
		n := nodes[name]
		if !n.keep || (!n.run && len(n.pods) == 0) {
			del = append(del, n.pods...) // misscheduled
			continue
		}
		var newPods, oldPods []*skiffv1.Pod
		for _, p := range n.pods {
			if p.GetMetadata().GetLabels()[RevisionHashLabel] == hash {
				newPods = append(newPods, p)
			} else {
				oldPods = append(oldPods, p)
			}
		}
		avail := func(p *skiffv1.Pod) bool { ok, _ := podAvailable(p, minReady, now); return ok }
		switch {
		case len(n.pods) == 0:
			if n.run {
				create = append(create, name)
			}
			unavailable++
		case !rolling || len(oldPods) == 0:
			// Keep one pod: the newest of the current template, else the oldest.
			keepPod := n.pods[0]
			if len(newPods) > 0 {
				keepPod = newPods[0]
			}
			for _, p := range n.pods {
				if p != keepPod {
					del = append(del, p)
				}
			}
			if !avail(keepPod) {
				unavailable++
			}
		case len(newPods) > 0:
			// A surge in progress: the old pods go once the new one is available.
			del = append(del, newPods[1:]...)
			if avail(newPods[0]) {
				del = append(del, oldPods...)
			} else {
				surging++
				unavailable++
			}
		default:
			del = append(del, oldPods[1:]...)
			if !avail(oldPods[0]) {
				// Not serving anyway: replace it at once.
				if maxSurge > 0 {
					create = append(create, name)
				} else {
					del = append(del, oldPods[0])
				}
				unavailable++
				continue
			}
			oldAvailable = append(oldAvailable, oldPods[0])
		}
	}
	if rolling {
		if maxSurge > 0 {
			for _, p := range oldAvailable {
				if surging >= maxSurge {
					break
				}
				create = append(create, daemonPodNode(p))
				surging++
			}
		} else {
			for _, p := range oldAvailable {
				if unavailable >= maxUnavailable {
					break
				}
				del = append(del, p)
				unavailable++
			}
		}
	}
	return create, del
}

// apply creates and deletes, at most burst of each, with expectations so
// the next sync waits for the cache to show them.
func (dc *daemonSets) apply(ctx context.Context, key string, ds *skiffv1.DaemonSet, hash string, create []string, del []*skiffv1.Pod) error {
	create = create[:min(len(create), dc.burst)]
	del = del[:min(len(del), dc.burst)]
	uids := make([]string, len(del))
	for i, p := range del {
		uids[i] = p.GetMetadata().GetUid()
	}
	dc.exp.expect(key, len(create), uids)
	var wg sync.WaitGroup
	errs := make([]error, len(create)+len(del))
	for i, node := range create {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = dc.createPod(ctx, ds, hash, node); errs[i] != nil {
				dc.exp.creationObserved(key)
			}
		}()
	}
	for i, p := range del {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := call(ctx)
			defer cancel()
			uid := p.GetMetadata().GetUid()
			_, _, err := dc.c.Pods().Delete(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), client.DeleteOptions{UID: uid})
			if err != nil {
				dc.exp.deletionObserved(key, uid)
				if !client.IsNotFound(err) && !client.IsConflict(err) {
					errs[len(create)+i] = fmt.Errorf("daemonset: delete pod %s: %w", client.KeyOf(p), err)
				}
			}
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		dc.rec.event(ctx, "DaemonSet", ds, "Warning", "FailedDaemonPod", "%v", err)
	}
	return err
}

func (dc *daemonSets) createPod(ctx context.Context, ds *skiffv1.DaemonSet, hash, node string) error {
	tmpl := ds.GetSpec().GetTemplate()
	m := ds.GetMetadata()
	labels := cloneMap(tmpl.GetMetadata().GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RevisionHashLabel] = hash
	spec := proto.Clone(tmpl.GetSpec()).(*skiffv1.PodSpec)
	spec.Tolerations = withDaemonTolerations(spec.Tolerations)
	pinToNode(spec, node)
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{
			Name: podName(m.GetName()), Namespace: m.GetNamespace(),
			Labels: labels, Annotations: cloneMap(tmpl.GetMetadata().GetAnnotations()),
			OwnerReferences: []*skiffv1.OwnerReference{{Kind: "DaemonSet", Name: m.GetName(), Uid: m.GetUid(), Controller: true}},
		},
		Spec: spec,
	}
	if m.GetAppliedAs() != nil {
		pod.Metadata.AppliedAs = &skiffv1.TypeMeta{ApiVersion: "v1", Kind: "Pod"}
	}
	cctx, cancel := call(ctx)
	defer cancel()
	if _, err := dc.c.Pods().Create(cctx, pod); err != nil {
		return fmt.Errorf("daemonset: create pod for node %s: %w", node, err)
	}
	return nil
}

// updateStatus writes the counts Kubernetes reports, when they changed.
func (dc *daemonSets) updateStatus(ctx context.Context, ds *skiffv1.DaemonSet, hash string, names []string, nodes map[string]*daemonNode, minReady time.Duration, now time.Time) error {
	st := proto.Clone(ds.GetStatus()).(*skiffv1.DaemonSetStatus)
	if st == nil {
		st = &skiffv1.DaemonSetStatus{}
	}
	st.DesiredNumberScheduled, st.CurrentNumberScheduled, st.NumberMisscheduled = 0, 0, 0
	st.NumberReady, st.NumberAvailable, st.UpdatedNumberScheduled, st.NumberUnavailable = 0, 0, 0, 0
	for _, name := range names {
		n := nodes[name]
		should := n.run || (n.keep && len(n.pods) > 0)
		if should {
			st.DesiredNumberScheduled++
		}
		if len(n.pods) == 0 {
			if should {
				st.NumberUnavailable++
			}
			continue
		}
		if !should {
			st.NumberMisscheduled++
			continue
		}
		st.CurrentNumberScheduled++
		ready, available, updated := false, false, false
		for _, p := range n.pods {
			ready = ready || skiffv1.IsPodReady(p)
			ok, wait := podAvailable(p, minReady, now)
			available = available || ok
			if wait > 0 {
				dc.r.queue.AddAfter(client.KeyOf(ds), wait)
			}
			updated = updated || p.GetMetadata().GetLabels()[RevisionHashLabel] == hash
		}
		if ready {
			st.NumberReady++
		}
		if available {
			st.NumberAvailable++
		} else {
			st.NumberUnavailable++
		}
		if updated {
			st.UpdatedNumberScheduled++
		}
	}
	st.ObservedGeneration = ds.GetMetadata().GetGeneration()
	if proto.Equal(st, ds.GetStatus()) {
		return nil
	}
	next := &skiffv1.DaemonSet{Metadata: proto.Clone(ds.GetMetadata()).(*skiffv1.ObjectMeta), Status: st}
	next.Metadata.ResourceVersion = ""
	cctx, cancel := call(ctx)
	defer cancel()
	if _, err := dc.c.DaemonSets().UpdateStatus(cctx, next); err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("daemonset: update status of %s: %w", client.KeyOf(ds), err)
	}
	return nil
}

// expect records creations and deletions asked for in one sync.
func (e *expectations) expect(key string, adds int, uids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, dels: map[string]struct{}{}, at: time.Now()}
	for _, u := range uids {
		x.dels[u] = struct{}{}
	}
	e.m[key] = x
}
