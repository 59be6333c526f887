package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// sync brings one replica set's pods to spec.replicas and writes its
// status. It re-reads everything from the caches: what changed does not
// matter, only where things stand.
func (rs *replicaSets) sync(ctx context.Context, key string) error {
	set, ok := rs.kind.get(key)
	if !ok {
		rs.exp.forget(key)
		return nil
	}
	sel, err := labels.FromLabelSelector(set.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		// The server rejects these; an old object may still hold one.
		rs.log.Warn("invalid selector; not managing its pods", "kind", rs.kind.name(), "key", key, "err", err)
		return nil
	}
	// Read expectations before the pods: a pod seen after this point is
	// either in the list or makes the next sync happen.
	needsScale := rs.exp.satisfied(key) && set.GetMetadata().GetDeletionTimestamp() == nil
	if paused, wait := rs.recentlyDisowned("set/" + key); paused {
		needsScale = false
		rs.r.queue.AddAfter(key, wait)
	}

	owned, err := rs.claim(ctx, set, sel)
	if err != nil {
		return err
	}
	var active []*skiffv1.Pod
	for _, p := range owned {
		if podActive(p) {
			active = append(active, p)
		}
	}
	var manageErr error
	if needsScale {
		manageErr = rs.manage(ctx, key, set, active)
	}
	if err := rs.updateStatus(ctx, set, active, manageErr); err != nil {
		return errors.Join(manageErr, err)
	}
	return manageErr
}

// claim returns the pods set controls after adopting matching orphans and
// releasing owned pods whose labels no longer match.
func (rs *replicaSets) claim(ctx context.Context, set *skiffv1.ReplicaSet, sel labels.Selector) ([]*skiffv1.Pod, error) {
	uid := set.GetMetadata().GetUid()
	deleting := set.GetMetadata().GetDeletionTimestamp() != nil
	var owned []*skiffv1.Pod
	var adoptable *bool // checked once, on the first orphan
	// Only pods it controls and orphans can be claimed: from the indexes,
	// not every pod of the namespace (at 150,000 pods in one namespace,
	// matching them all made each sync cost ~100 ms of CPU).
	var candidates []*skiffv1.Pod
	for _, p := range rs.pods.ByIndex(indexOwner, uid) {
		if ref := controllerRef(p.GetMetadata()); ref != nil && ref.GetUid() == uid {
			candidates = append(candidates, p)
		}
	}
	candidates = append(candidates, rs.pods.ByIndex(indexOrphan, set.GetMetadata().GetNamespace())...)
	for _, p := range candidates {
		matches := sel.Matches(p.GetMetadata().GetLabels())
		ref := controllerRef(p.GetMetadata())
		switch {
		case ref != nil && ref.GetUid() == uid && matches:
			owned = append(owned, p)
		case ref != nil && ref.GetUid() == uid:
			if deleting {
				continue
			}
			if err := rs.release(ctx, set, p); err != nil {
				return nil, err
			}
		case ref == nil && matches && !deleting && p.GetMetadata().GetDeletionTimestamp() == nil:
			if recent, wait := rs.recentlyDisowned(p.GetMetadata().GetUid()); recent {
				rs.r.queue.AddAfter(client.KeyOf(set), wait)
				continue
			}
			if adoptable == nil {
				ok, err := rs.canAdopt(ctx, set)
				if err != nil {
					return nil, err
				}
				adoptable = &ok
			}
			if !*adoptable {
				continue
			}
			adopted, err := rs.adopt(ctx, set, sel, p)
			if err != nil {
				return nil, err
			}
			if adopted != nil {
				owned = append(owned, adopted)
			}
		}
	}
	return owned, nil
}

// canAdopt re-reads the replica set from the server: the cache may still
// hold one that was deleted, and pods must not be adopted by a ghost.
func (rs *replicaSets) canAdopt(ctx context.Context, set *skiffv1.ReplicaSet) (bool, error) {
	cctx, cancel := call(ctx)
	defer cancel()
	fresh, err := rs.kind.fetch(cctx, set.GetMetadata().GetNamespace(), set.GetMetadata().GetName())
	if client.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: re-read %s before adopting: %w", rs.r.name, client.KeyOf(set), err)
	}
	return fresh.GetUid() == set.GetMetadata().GetUid() && fresh.GetDeletionTimestamp() == nil, nil
}

// adopt makes set the controller of the orphan p, unless p changed
// meanwhile; it returns the adopted pod or nil.
func (rs *replicaSets) adopt(ctx context.Context, set *skiffv1.ReplicaSet, sel labels.Selector, p *skiffv1.Pod) (*skiffv1.Pod, error) {
	cctx, cancel := call(ctx)
	defer cancel()
	adopted := false
	out, err := rs.c.Pods().Modify(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
		m := cur.GetMetadata()
		if controllerRef(m) != nil || m.GetDeletionTimestamp() != nil || !sel.Matches(m.GetLabels()) || m.GetUid() != p.GetMetadata().GetUid() {
			adopted = false
			return client.ErrNoChange
		}
		m.OwnerReferences = append(m.OwnerReferences, ownerRefTo(rs.kind.name(), set))
		adopted = true
		return nil
	})
	if client.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: adopt pod %s: %w", rs.r.name, client.KeyOf(p), err)
	}
	if !adopted {
		return nil, nil
	}
	rs.log.Info("adopted pod", "owner", client.KeyOf(set), "pod", p.GetMetadata().GetName())
	return out, nil
}

// release drops set's owner reference from p, whose labels stopped
// matching; p carries on as an orphan.
func (rs *replicaSets) release(ctx context.Context, set *skiffv1.ReplicaSet, p *skiffv1.Pod) error {
	cctx, cancel := call(ctx)
	defer cancel()
	uid := set.GetMetadata().GetUid()
	rs.mu.Lock()
	rs.disowned["self/"+p.GetMetadata().GetUid()] = time.Now()
	rs.mu.Unlock()
	_, err := rs.c.Pods().Modify(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
		m := cur.GetMetadata()
		kept := m.OwnerReferences[:0]
		for _, r := range m.OwnerReferences {
			if r.GetUid() != uid {
				kept = append(kept, r)
			}
		}
		if len(kept) == len(m.OwnerReferences) {
			return client.ErrNoChange
		}
		m.OwnerReferences = kept
		return nil
	})
	if err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("%s: release pod %s: %w", rs.r.name, client.KeyOf(p), err)
	}
	rs.log.Info("released pod", "owner", client.KeyOf(set), "pod", p.GetMetadata().GetName())
	return nil
}

func ownerRefTo(kind string, set *skiffv1.ReplicaSet) *skiffv1.OwnerReference {
	return &skiffv1.OwnerReference{Kind: kind, Name: set.GetMetadata().GetName(), Uid: set.GetMetadata().GetUid(), Controller: true}
}

// manage creates or deletes pods so that active has spec.replicas, at most
// burst per sync. Creates go in growing batches (1, 2, 4, …): when the
// first fail (a quota, a bad template) the rest are not attempted.
func (rs *replicaSets) manage(ctx context.Context, key string, set *skiffv1.ReplicaSet, active []*skiffv1.Pod) error {
	diff := len(active) - int(set.GetSpec().GetReplicas())
	switch {
	case diff < 0:
		n := min(-diff, rs.burst)
		rs.exp.expectCreations(key, n)
		created, err := slowStartBatch(n, 1, func() error { return rs.createPod(ctx, set) })
		if skipped := n - created; skipped > 0 {
			// Not made: the informer will not show them.
			for i := 0; i < skipped; i++ {
				rs.exp.creationObserved(key)
			}
		}
		if err != nil {
			rs.rec.event(ctx, rs.kind.name(), set, "Warning", "FailedCreate", "Error creating: %v", err)
			return &manageError{reason: "FailedCreate", err: err}
		}
		if created > 0 {
			rs.log.Debug("created pods", "owner", key, "count", created)
		}
	case diff > 0:
		n := min(diff, rs.burst)
		victims := append([]*skiffv1.Pod(nil), active...)
		sortForDeletion(victims)
		victims = victims[:n]
		uids := make([]string, len(victims))
		for i, p := range victims {
			uids[i] = p.GetMetadata().GetUid()
		}
		rs.exp.expectDeletions(key, uids)
		var wg sync.WaitGroup
		errs := make([]error, len(victims))
		for i, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = rs.deletePod(ctx, key, p)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			rs.rec.event(ctx, rs.kind.name(), set, "Warning", "FailedDelete", "Error deleting: %v", err)
			return &manageError{reason: "FailedDelete", err: err}
		}
		rs.log.Debug("deleted pods", "owner", key, "count", n)
	}
	return nil
}

// manageError is a failed create or delete; its reason goes on the
// ReplicaFailure condition.
type manageError struct {
	reason string
	err    error
}

func (e *manageError) Error() string { return e.err.Error() }
func (e *manageError) Unwrap() error { return e.err }

// podNameChars avoids vowels (and so words) and look-alikes, as
// Kubernetes' generated names do.
const podNameChars = "bcdfghjklmnpqrstvwxz2456789"

// podName is base, a dash and five random characters, the prefix cut so
// the name stays within 63 characters (as Kubernetes cuts generateName): a
// long owner name still gets pods.
func podName(base string) string {
	const suffix = 5
	prefix := base + "-"
	if len(prefix) > 63-suffix {
		prefix = prefix[:63-suffix]
	}
	b := make([]byte, suffix)
	for i := range b {
		b[i] = podNameChars[rand.IntN(len(podNameChars))]
	}
	return prefix + string(b)
}

func (rs *replicaSets) createPod(ctx context.Context, set *skiffv1.ReplicaSet) error {
	tmpl := set.GetSpec().GetTemplate()
	m := set.GetMetadata()
	for attempt := 0; ; attempt++ {
		pod := &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{
				Name:            podName(m.GetName()),
				Namespace:       m.GetNamespace(),
				Labels:          cloneMap(tmpl.GetMetadata().GetLabels()),
				Annotations:     cloneMap(tmpl.GetMetadata().GetAnnotations()),
				OwnerReferences: []*skiffv1.OwnerReference{ownerRefTo(rs.kind.name(), set)},
			},
			Spec: proto.Clone(tmpl.GetSpec()).(*skiffv1.PodSpec),
		}
		if set.GetMetadata().GetAppliedAs() != nil {
			// A set applied as Kubernetes' apps/v1 makes pods that print as
			// Kubernetes' v1 Pods.
			pod.Metadata.AppliedAs = &skiffv1.TypeMeta{ApiVersion: "v1", Kind: "Pod"}
		}
		cctx, cancel := call(ctx)
		_, err := rs.c.Pods().Create(cctx, pod)
		cancel()
		if client.IsAlreadyExists(err) && attempt < 3 {
			continue // a name collision; draw again
		}
		if err != nil {
			return fmt.Errorf("%s: create pod for %s: %w", rs.r.name, client.KeyOf(set), err)
		}
		return nil
	}
}

func (rs *replicaSets) deletePod(ctx context.Context, key string, p *skiffv1.Pod) error {
	cctx, cancel := call(ctx)
	defer cancel()
	uid := p.GetMetadata().GetUid()
	_, _, err := rs.c.Pods().Delete(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), client.DeleteOptions{UID: uid})
	switch {
	case err == nil:
		return nil
	case client.IsNotFound(err) || client.IsConflict(err):
		// Already gone (or replaced): the informer may have shown that
		// before we expected it, so it will not show it again.
		rs.exp.deletionObserved(key, uid)
		return nil
	}
	rs.exp.deletionObserved(key, uid)
	return fmt.Errorf("%s: delete pod %s: %w", rs.r.name, client.KeyOf(p), err)
}

// slowStartBatch calls fn count times, in batches of initial, then twice
// as many, and so on, the calls of a batch at once. It stops after the
// first batch with an error and returns how many calls succeeded.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	done := 0
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-done) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for i := 0; i < batch; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		done += batch - len(errs)
		if len(errs) > 0 {
			return done, <-errs
		}
	}
	return done, nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// updateStatus writes the counts and the ReplicaFailure condition, when
// they changed.
func (rs *replicaSets) updateStatus(ctx context.Context, set *skiffv1.ReplicaSet, active []*skiffv1.Pod, manageErr error) error {
	st := proto.Clone(set.GetStatus()).(*skiffv1.ReplicaSetStatus)
	if st == nil {
		st = &skiffv1.ReplicaSetStatus{}
	}
	st.Replicas = int32(len(active))
	st.ReadyReplicas, st.AvailableReplicas = 0, 0
	st.FullyLabeledReplicas = 0
	tmplLabels := labels.SelectorFromSet(set.GetSpec().GetTemplate().GetMetadata().GetLabels())
	now := time.Now()
	minReady := time.Duration(set.GetSpec().GetMinReadySeconds()) * time.Second
	for _, p := range active {
		if tmplLabels.Matches(p.GetMetadata().GetLabels()) {
			st.FullyLabeledReplicas++
		}
		if skiffv1.IsPodReady(p) {
			st.ReadyReplicas++
		}
		available, wait := podAvailable(p, minReady, now)
		if available {
			st.AvailableReplicas++
		} else if wait > 0 {
			// Nothing else happens when it turns available: look again then.
			rs.r.queue.AddAfter(client.KeyOf(set), wait)
		}
	}
	st.ObservedGeneration = set.GetMetadata().GetGeneration()
	var me *manageError
	if errors.As(manageErr, &me) {
		skiffv1.SetCondition(&st.Conditions, &skiffv1.Condition{Type: skiffv1.ReplicaFailure, Status: skiffv1.ConditionTrue, Reason: me.reason, Message: me.err.Error()}, time.Now())
	} else if manageErr == nil {
		skiffv1.RemoveCondition(&st.Conditions, skiffv1.ReplicaFailure)
	}
	cctx, cancel := call(ctx)
	defer cancel()
	err := rs.kind.writeStatus(cctx, set, st)
	if client.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: update status of %s: %w", rs.r.name, client.KeyOf(set), err)
	}
	return nil
}
