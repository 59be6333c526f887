package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/rollout"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// setView is one sync's reading of a StatefulSet and its pods.
type setView struct {
	set         *skiffv1.StatefulSet
	start, end  int // valid ordinals: [start, end)
	pods        map[int]*skiffv1.Pod
	updateRev   string
	currentRev  string
	currentTmpl *skiffv1.PodTemplateSpec
	minReady    time.Duration
	now         time.Time
}

func (v *setView) healthy(p *skiffv1.Pod) bool {
	ok, _ := podAvailable(p, v.minReady, v.now)
	return ok && p.GetMetadata().GetDeletionTimestamp() == nil && !skiffv1.IsPodTerminal(p)
}

func (v *setView) revision(p *skiffv1.Pod) string {
	return p.GetMetadata().GetLabels()[RevisionHashLabel]
}

func (sc *statefulSets) sync(ctx context.Context, key string) error {
	set, ok := sc.sets.Get(key)
	if !ok {
		sc.exp.forget(key)
		return nil
	}
	if set.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	spec := set.GetSpec()
	v := &setView{
		set: set, start: int(spec.GetOrdinals().GetStart()), pods: map[int]*skiffv1.Pod{},
		updateRev: rollout.TemplateHash(spec.GetTemplate(), 0),
		minReady:  time.Duration(spec.GetMinReadySeconds()) * time.Second, now: time.Now(),
	}
	v.end = v.start + int(spec.GetReplicas())
	v.currentRev, v.currentTmpl = set.GetStatus().GetCurrentRevision(), set.GetStatus().GetCurrentTemplate()
	if v.currentRev == "" || v.currentTmpl == nil {
		v.currentRev, v.currentTmpl = v.updateRev, spec.GetTemplate()
	}
	for _, p := range sc.pods.ByIndex(indexOwner, set.GetMetadata().GetUid()) {
		if ref := controllerRef(p.GetMetadata()); ref == nil || ref.GetUid() != set.GetMetadata().GetUid() {
			continue
		}
		if i, ok := ordinalOf(set.GetMetadata().GetName(), p.GetMetadata().GetName()); ok {
			v.pods[i] = p
		}
	}
	var manageErr error
	if sc.exp.satisfied(key) {
		manageErr = sc.manage(ctx, key, v)
	}
	return errors.Join(manageErr, sc.updateStatus(ctx, v))
}

// manage takes the next steps: make missing pods, replace finished ones,
// remove the condemned, then update one pod; OrderedReady stops at the
// first pod that is not yet healthy.
func (sc *statefulSets) manage(ctx context.Context, key string, v *setView) error {
	parallel := v.set.GetSpec().GetPodManagementPolicy() == "Parallel"
	blocked := false
	for i := v.start; i < v.end; i++ {
		p := v.pods[i]
		switch {
		case p == nil:
			if err := sc.createPod(ctx, key, v, i); err != nil {
				return err
			}
			if !parallel {
				return nil
			}
			blocked = true
		case p.GetMetadata().GetDeletionTimestamp() != nil:
			// Its name comes back once it is gone.
			blocked = true
			if !parallel {
				return nil
			}
		case skiffv1.IsPodTerminal(p):
			// A pod that ended is made again under the same name.
			if err := sc.deletePod(ctx, key, v, p, "recreate"); err != nil {
				return err
			}
			if !parallel {
				return nil
			}
			blocked = true
		case !v.healthy(p):
			blocked = true
			if err := sc.claimsForWaitingPod(ctx, v, i, p); err != nil {
				return err
			}
			if _, wait := podAvailable(p, v.minReady, v.now); wait > 0 {
				sc.r.queue.AddAfter(key, wait)
			}
			if !parallel {
				return nil
			}
		}
	}

	// Scale down from the highest ordinal.
	var condemned []int
	for i := range v.pods {
		if i < v.start || i >= v.end {
			condemned = append(condemned, i)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(condemned)))
	for _, i := range condemned {
		p := v.pods[i]
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			if !parallel {
				return nil
			}
			continue
		}
		if !parallel && blocked {
			return nil
		}
		if err := sc.deletePod(ctx, key, v, p, "scale down"); err != nil {
			return err
		}
		if !parallel {
			return nil
		}
	}
	if err := sc.releaseScaledClaims(ctx, v); err != nil {
		return err
	}
	if blocked || len(condemned) > 0 {
		return nil
	}

	// RollingUpdate: the highest pod at or above the partition not at the
	// update revision goes; it comes back at the update revision.
	st := v.set.GetSpec().GetUpdateStrategy()
	if st.GetType() == "OnDelete" {
		return nil
	}
	partition := int(st.GetRollingUpdate().GetPartition())
	for i := v.end - 1; i >= max(v.start, partition); i-- {
		p := v.pods[i]
		if p != nil && v.revision(p) != v.updateRev {
			return sc.deletePod(ctx, key, v, p, "update")
		}
	}
	return nil
}

// templateFor is the template pod i is made from: below the partition of
// a RollingUpdate the current revision's, else the update revision's.
func (v *setView) templateFor(i int) (*skiffv1.PodTemplateSpec, string) {
	st := v.set.GetSpec().GetUpdateStrategy()
	if st.GetType() != "OnDelete" && i < int(st.GetRollingUpdate().GetPartition()) {
		return v.currentTmpl, v.currentRev
	}
	return v.set.GetSpec().GetTemplate(), v.updateRev
}

func (sc *statefulSets) createPod(ctx context.Context, key string, v *setView, i int) error {
	set := v.set
	m := set.GetMetadata()
	if err := sc.ensureClaims(ctx, v, i); err != nil {
		sc.rec.event(ctx, "StatefulSet", set, "Warning", "FailedCreate", "create Claim for Pod %s-%d in StatefulSet %s failed error: %v", m.GetName(), i, m.GetName(), err)
		return err
	}
	tmpl, rev := v.templateFor(i)
	name := m.GetName() + "-" + strconv.Itoa(i)
	labels := cloneMap(tmpl.GetMetadata().GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RevisionHashLabel] = rev
	labels[StatefulSetPodNameLabel] = name
	labels[PodIndexLabel] = strconv.Itoa(i)
	spec := proto.Clone(tmpl.GetSpec()).(*skiffv1.PodSpec)
	spec.Hostname = name
	spec.Subdomain = set.GetSpec().GetServiceName()
	for _, t := range set.GetSpec().GetVolumeClaimTemplates() {
		tn := t.GetMetadata().GetName()
		vol := &skiffv1.PodVolume{Name: tn, Volume: &skiffv1.VolumeClaimSource{Name: claimName(tn, m.GetName(), i)}}
		replaced := false
		for j, pv := range spec.Volumes {
			if pv.GetName() == tn {
				spec.Volumes[j], replaced = vol, true
			}
		}
		if !replaced {
			spec.Volumes = append(spec.Volumes, vol)
		}
	}
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{
			Name: name, Namespace: m.GetNamespace(), Labels: labels,
			Annotations:     cloneMap(tmpl.GetMetadata().GetAnnotations()),
			OwnerReferences: []*skiffv1.OwnerReference{{Kind: "StatefulSet", Name: m.GetName(), Uid: m.GetUid(), Controller: true}},
		},
		Spec: spec,
	}
	if m.GetAppliedAs() != nil {
		pod.Metadata.AppliedAs = &skiffv1.TypeMeta{ApiVersion: "v1", Kind: "Pod"}
	}
	sc.exp.expect(key, 1, nil)
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := sc.c.Pods().Create(cctx, pod)
	if err != nil {
		sc.exp.creationObserved(key)
		if client.IsAlreadyExists(err) {
			return nil // the old pod of that name is still going: its deletion queues us
		}
		sc.rec.event(ctx, "StatefulSet", set, "Warning", "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", name, m.GetName(), err)
		return fmt.Errorf("statefulset: create pod %s/%s: %w", m.GetNamespace(), name, err)
	}
	sc.rec.event(ctx, "StatefulSet", set, "Normal", "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", name, m.GetName())
	return nil
}

// claimsForWaitingPod makes again the claims of a pod no node took yet
// whose claim was deleted, as Kubernetes' controller does for a Pending
// pod: deleting the claim of a pod that waits for its lost local volume's
// node is how it starts afresh elsewhere. A pod already on a node keeps
// what it has (a claim made now would not be pinned where it runs).
func (sc *statefulSets) claimsForWaitingPod(ctx context.Context, v *setView, i int, p *skiffv1.Pod) error {
	if p.GetSpec().GetNodeName() != "" || p.GetMetadata().GetDeletionTimestamp() != nil || skiffv1.IsPodTerminal(p) {
		return nil
	}
	if err := sc.ensureClaims(ctx, v, i); err != nil {
		sc.rec.event(ctx, "StatefulSet", v.set, "Warning", "FailedCreate", "create Claim for Pod %s failed error: %v", p.GetMetadata().GetName(), err)
		return err
	}
	return nil
}

// ensureClaims makes the Volumes of ordinal i that are not there yet.
func (sc *statefulSets) ensureClaims(ctx context.Context, v *setView, i int) error {
	set := v.set
	m := set.GetMetadata()
	for _, t := range set.GetSpec().GetVolumeClaimTemplates() {
		name := claimName(t.GetMetadata().GetName(), m.GetName(), i)
		if _, ok := sc.volumes.Get(client.Key(m.GetNamespace(), name)); ok {
			continue
		}
		labels := cloneMap(t.GetMetadata().GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		for k, val := range set.GetSpec().GetSelector().GetMatchLabels() {
			labels[k] = val
		}
		vol := &skiffv1.Volume{
			Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: m.GetNamespace(), Labels: labels, Annotations: cloneMap(t.GetMetadata().GetAnnotations())},
			Spec:     proto.Clone(t.GetSpec()).(*skiffv1.VolumeSpec),
		}
		if set.GetSpec().GetPersistentVolumeClaimRetentionPolicy().GetWhenDeleted() == "Delete" {
			vol.Metadata.OwnerReferences = []*skiffv1.OwnerReference{{Kind: "StatefulSet", Name: m.GetName(), Uid: m.GetUid()}}
		}
		if m.GetAppliedAs() != nil {
			vol.Metadata.AppliedAs = &skiffv1.TypeMeta{ApiVersion: "v1", Kind: "PersistentVolumeClaim"}
		}
		cctx, cancel := call(ctx)
		_, err := sc.c.Volumes().Create(cctx, vol)
		cancel()
		if err != nil && !client.IsAlreadyExists(err) {
			return fmt.Errorf("statefulset: create volume %s/%s: %w", m.GetNamespace(), name, err)
		}
	}
	return nil
}

// releaseScaledClaims deletes, under whenScaled: Delete, the volumes of
// ordinals scaled away once their pod is gone.
func (sc *statefulSets) releaseScaledClaims(ctx context.Context, v *setView) error {
	if v.set.GetSpec().GetPersistentVolumeClaimRetentionPolicy().GetWhenScaled() != "Delete" {
		return nil
	}
	m := v.set.GetMetadata()
	for _, t := range v.set.GetSpec().GetVolumeClaimTemplates() {
		prefix := t.GetMetadata().GetName() + "-"
		for _, vol := range sc.volumes.List() {
			vm := vol.GetMetadata()
			if vm.GetNamespace() != m.GetNamespace() || vm.GetDeletionTimestamp() != nil || len(vm.GetName()) <= len(prefix) || vm.GetName()[:len(prefix)] != prefix {
				continue
			}
			i, ok := ordinalOf(m.GetName(), vm.GetName()[len(prefix):])
			if !ok || (i >= v.start && i < v.end) || v.pods[i] != nil {
				continue
			}
			cctx, cancel := call(ctx)
			_, _, err := sc.c.Volumes().Delete(cctx, vm.GetNamespace(), vm.GetName(), client.DeleteOptions{UID: vm.GetUid()})
			cancel()
			if err != nil && !client.IsNotFound(err) && !client.IsConflict(err) {
				return fmt.Errorf("statefulset: delete volume %s/%s of a scaled-down pod: %w", vm.GetNamespace(), vm.GetName(), err)
			}
		}
	}
	return nil
}

func (sc *statefulSets) deletePod(ctx context.Context, key string, v *setView, p *skiffv1.Pod, why string) error {
	uid := p.GetMetadata().GetUid()
	sc.exp.expect(key, 0, []string{uid})
	cctx, cancel := call(ctx)
	defer cancel()
	_, _, err := sc.c.Pods().Delete(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), client.DeleteOptions{UID: uid})
	if err != nil {
		sc.exp.deletionObserved(key, uid)
		if client.IsNotFound(err) || client.IsConflict(err) {
			return nil
		}
		sc.rec.event(ctx, "StatefulSet", v.set, "Warning", "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", p.GetMetadata().GetName(), v.set.GetMetadata().GetName(), err)
		return fmt.Errorf("statefulset: delete pod %s (%s): %w", client.KeyOf(p), why, err)
	}
	sc.rec.event(ctx, "StatefulSet", v.set, "Normal", "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", p.GetMetadata().GetName(), v.set.GetMetadata().GetName())
	return nil
}

// updateStatus writes Kubernetes' counts and revisions; the update
// revision becomes the current one once every pod runs it and is Ready.
func (sc *statefulSets) updateStatus(ctx context.Context, v *setView) error {
	set := v.set
	st := proto.Clone(set.GetStatus()).(*skiffv1.StatefulSetStatus)
	if st == nil {
		st = &skiffv1.StatefulSetStatus{}
	}
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas, st.CurrentReplicas, st.UpdatedReplicas = 0, 0, 0, 0, 0
	for _, p := range v.pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil || skiffv1.IsPodTerminal(p) {
			continue
		}
		st.Replicas++
		if skiffv1.IsPodReady(p) {
			st.ReadyReplicas++
		}
		if ok, _ := podAvailable(p, v.minReady, v.now); ok {
			st.AvailableReplicas++
		}
		if v.revision(p) == v.currentRev {
			st.CurrentReplicas++
		}
		if v.revision(p) == v.updateRev {
			st.UpdatedReplicas++
		}
	}
	st.CurrentRevision, st.UpdateRevision, st.CurrentTemplate = v.currentRev, v.updateRev, v.currentTmpl
	want := set.GetSpec().GetReplicas()
	if st.UpdatedReplicas == want && st.ReadyReplicas == want && st.Replicas == want {
		st.CurrentRevision, st.CurrentTemplate, st.CurrentReplicas = v.updateRev, set.GetSpec().GetTemplate(), st.UpdatedReplicas
	}
	st.ObservedGeneration = set.GetMetadata().GetGeneration()
	if proto.Equal(st, set.GetStatus()) {
		return nil
	}
	next := &skiffv1.StatefulSet{Metadata: proto.Clone(set.GetMetadata()).(*skiffv1.ObjectMeta), Status: st}
	next.Metadata.ResourceVersion = ""
	cctx, cancel := call(ctx)
	defer cancel()
	if _, err := sc.c.StatefulSets().UpdateStatus(cctx, next); err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("statefulset: update status of %s: %w", client.KeyOf(set), err)
	}
	return nil
}
