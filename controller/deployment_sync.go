package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/rollout"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Reasons of the Progressing and Available conditions, as Kubernetes'.
const (
	reasonNewRSCreated       = "NewReplicaSetCreated"
	reasonRSUpdated          = "ReplicaSetUpdated"
	reasonNewRSAvailable     = "NewReplicaSetAvailable"
	reasonTimedOut           = "ProgressDeadlineExceeded"
	reasonPaused             = "DeploymentPaused"
	reasonResumed            = "DeploymentResumed"
	reasonMinimumAvailable   = "MinimumReplicasAvailable"
	reasonMinimumUnavailable = "MinimumReplicasUnavailable"
)

// deploymentState is what one sync works on: the deployment (a copy) and
// the replica sets it owns, split into the one of its current template
// and the others.
type deploymentState struct {
	key     string
	dp      *skiffv1.Deployment
	all     []*skiffv1.ReplicaSet
	newRS   *skiffv1.ReplicaSet
	old     []*skiffv1.ReplicaSet
	created bool // newRS was made by this sync
}

// sync takes one step of the deployment's rollout and writes its status.
// Each step changes one thing (the new set, or the old ones) and returns;
// the replica sets' status changes bring the next sync.
func (d *deployments) sync(ctx context.Context, key string) error {
	cached, ok := d.dps.Get(key)
	if !ok {
		return nil
	}
	dp := proto.Clone(cached).(*skiffv1.Deployment)
	sel, err := labels.FromLabelSelector(dp.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		d.log.Warn("deployment has an invalid selector; not managing it", "key", key, "err", err)
		return nil
	}
	s := &deploymentState{key: key, dp: dp}
	if s.all, err = d.claim(ctx, dp, sel); err != nil {
		return err
	}
	s.split()
	if dp.GetMetadata().GetDeletionTimestamp() != nil {
		return d.writeStatus(ctx, s)
	}
	var stepErr error
	switch {
	case dp.GetSpec().GetPaused():
		// No new rollout; a changed count still scales the sets there are.
		stepErr = d.apply(ctx, s, rollout.Proportional(dp, s.all))
	case dp.GetSpec().GetStrategy().GetType() == "Recreate":
		stepErr = d.recreate(ctx, s)
	default:
		stepErr = d.rollingUpdate(ctx, s)
	}
	if stepErr == nil && !dp.GetSpec().GetPaused() && s.newRS != nil &&
		rollout.Complete(dp, rollout.Status(dp, s.all, s.newRS)) {
		stepErr = d.cleanup(ctx, s)
	}
	return errors.Join(stepErr, d.writeStatus(ctx, s))
}

// split finds the replica set of the current template (the oldest, should
// there be several) and the old ones.
func (s *deploymentState) split() {
	s.newRS, s.old = nil, nil
	for _, rs := range s.all {
		if rs.GetMetadata().GetDeletionTimestamp() == nil && rollout.SameTemplate(s.dp.GetSpec().GetTemplate(), rs.GetSpec().GetTemplate()) &&
			(s.newRS == nil || rs.GetMetadata().GetCreationTimestamp().AsTime().Before(s.newRS.GetMetadata().GetCreationTimestamp().AsTime())) {
			s.newRS = rs
		}
	}
	for _, rs := range s.all {
		if rs != s.newRS {
			s.old = append(s.old, rs)
		}
	}
}

func (d *deployments) rollingUpdate(ctx context.Context, s *deploymentState) error {
	if s.newRS == nil {
		n := rollout.NewReplicas(s.dp, s.all, &skiffv1.ReplicaSet{Spec: &skiffv1.ReplicaSetSpec{Replicas: proto.Int32(0)}})
		return d.createNewRS(ctx, s, n)
	}
	if err := d.syncRevision(ctx, s); err != nil {
		return err
	}
	if step, ok := rollout.ScaleNew(s.dp, s.all, s.newRS); ok {
		return d.apply(ctx, s, []rollout.Scale{step})
	}
	return d.apply(ctx, s, rollout.ScaleOld(s.dp, s.old, s.newRS))
}

// recreate scales every old set to zero, waits until their pods are all
// gone, then brings up the new one at full size.
func (d *deployments) recreate(ctx context.Context, s *deploymentState) error {
	var down []rollout.Scale
	for _, rs := range s.old {
		if rs.GetSpec().GetReplicas() > 0 {
			down = append(down, rollout.Scale{RS: rs, Replicas: 0})
		}
	}
	if len(down) > 0 {
		return d.apply(ctx, s, down)
	}
	for _, rs := range s.old {
		for _, p := range d.pods.ByIndex(indexOwner, rs.GetMetadata().GetUid()) {
			if ph := p.GetStatus().GetPhase(); ph != "Succeeded" && ph != "Failed" {
				return nil // a pod deletion brings the next sync
			}
		}
	}
	if s.newRS == nil {
		return d.createNewRS(ctx, s, s.dp.GetSpec().GetReplicas())
	}
	if err := d.syncRevision(ctx, s); err != nil {
		return err
	}
	if s.newRS.GetSpec().GetReplicas() != s.dp.GetSpec().GetReplicas() {
		return d.apply(ctx, s, []rollout.Scale{{RS: s.newRS, Replicas: s.dp.GetSpec().GetReplicas()}})
	}
	return nil
}

// claim returns the replica sets dp controls, adopting orphans whose
// template its selector matches.
func (d *deployments) claim(ctx context.Context, dp *skiffv1.Deployment, sel labels.Selector) ([]*skiffv1.ReplicaSet, error) {
	uid := dp.GetMetadata().GetUid()
	var owned []*skiffv1.ReplicaSet
	for _, rs := range d.rss.ByIndex(indexNamespace, dp.GetMetadata().GetNamespace()) {
		ref := controllerRef(rs.GetMetadata())
		switch {
		case ref != nil && ref.GetUid() == uid:
			owned = append(owned, rs)
		case ref == nil && dp.GetMetadata().GetDeletionTimestamp() == nil && rs.GetMetadata().GetDeletionTimestamp() == nil &&
			sel.Matches(rs.GetSpec().GetTemplate().GetMetadata().GetLabels()):
			adopted, err := d.adopt(ctx, dp, rs)
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

func (d *deployments) adopt(ctx context.Context, dp *skiffv1.Deployment, rs *skiffv1.ReplicaSet) (*skiffv1.ReplicaSet, error) {
	cctx, cancel := call(ctx)
	defer cancel()
	out, err := d.c.ReplicaSets().Modify(cctx, rs.GetMetadata().GetNamespace(), rs.GetMetadata().GetName(), func(cur *skiffv1.ReplicaSet) error {
		if controllerRef(cur.GetMetadata()) != nil || cur.GetMetadata().GetUid() != rs.GetMetadata().GetUid() {
			return errNotAdoptable
		}
		cur.Metadata.OwnerReferences = append(cur.Metadata.OwnerReferences, deploymentRef(dp))
		return nil
	})
	if client.IsNotFound(err) || errors.Is(err, errNotAdoptable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deployment: adopt replica set %s: %w", client.KeyOf(rs), err)
	}
	d.log.Info("adopted replica set", "deployment", client.KeyOf(dp), "replicaset", rs.GetMetadata().GetName())
	return out, nil
}

var errNotAdoptable = errors.New("replica set changed; not adopting it")

func deploymentRef(dp *skiffv1.Deployment) *skiffv1.OwnerReference {
	return &skiffv1.OwnerReference{Kind: "Deployment", Name: dp.GetMetadata().GetName(), Uid: dp.GetMetadata().GetUid(), Controller: true}
}

// createNewRS makes the replica set of the deployment's template, named
// after the template's hash, as the next revision.
func (d *deployments) createNewRS(ctx context.Context, s *deploymentState, replicas int32) error {
	dp := s.dp
	revision := strconv.FormatInt(rollout.MaxRevision(s.old)+1, 10)
	for collisions := int32(0); collisions < 5; collisions++ {
		hash := rollout.TemplateHash(dp.GetSpec().GetTemplate(), collisions)
		tmpl := proto.Clone(dp.GetSpec().GetTemplate()).(*skiffv1.PodTemplateSpec)
		if tmpl.Metadata == nil {
			tmpl.Metadata = &skiffv1.ObjectMeta{}
		}
		tmpl.Metadata.Labels = withLabel(tmpl.Metadata.Labels, rollout.HashLabel, hash)
		sel := proto.Clone(dp.GetSpec().GetSelector()).(*skiffv1.LabelSelector)
		sel.MatchLabels = withLabel(sel.MatchLabels, rollout.HashLabel, hash)
		ann := map[string]string{rollout.RevisionAnnotation: revision}
		if c, ok := dp.GetMetadata().GetAnnotations()[rollout.ChangeCauseAnnotation]; ok {
			ann[rollout.ChangeCauseAnnotation] = c
		}
		rs := &skiffv1.ReplicaSet{
			Metadata: &skiffv1.ObjectMeta{
				Name: dp.GetMetadata().GetName() + "-" + hash, Namespace: dp.GetMetadata().GetNamespace(),
				Labels: cloneMap(tmpl.Metadata.Labels), Annotations: ann,
				OwnerReferences: []*skiffv1.OwnerReference{deploymentRef(dp)},
			},
			Spec: &skiffv1.ReplicaSetSpec{
				Replicas: proto.Int32(replicas), Selector: sel, Template: tmpl,
				MinReadySeconds: dp.GetSpec().GetMinReadySeconds(),
			},
		}
		cctx, cancel := call(ctx)
		created, err := d.c.ReplicaSets().Create(cctx, rs)
		cancel()
		if client.IsAlreadyExists(err) {
			cctx, cancel := call(ctx)
			cur, gerr := d.c.ReplicaSets().Get(cctx, rs.GetMetadata().GetNamespace(), rs.GetMetadata().GetName())
			cancel()
			if gerr != nil {
				return fmt.Errorf("deployment: read replica set %s: %w", rs.GetMetadata().GetName(), gerr)
			}
			if ref := controllerRef(cur.GetMetadata()); ref != nil && ref.GetUid() == dp.GetMetadata().GetUid() &&
				rollout.SameTemplate(dp.GetSpec().GetTemplate(), cur.GetSpec().GetTemplate()) {
				return nil // ours, not yet in the cache: its event brings the next sync
			}
			continue // another template has this hash: take the next variant
		}
		if err != nil {
			d.rec.event(ctx, "Deployment", dp, "Warning", "FailedCreate", "Failed to create new replica set %q: %v", rs.GetMetadata().GetName(), err)
			return fmt.Errorf("deployment: create replica set for %s: %w", s.key, err)
		}
		s.newRS, s.created = created, true
		s.all = append(s.all, created)
		d.rec.event(ctx, "Deployment", dp, "Normal", "ScalingReplicaSet", "Scaled up replica set %s to %d", created.GetMetadata().GetName(), replicas)
		return d.setDeploymentRevision(ctx, s, revision)
	}
	return fmt.Errorf("deployment: %s: every name for its template's hash is taken", s.key)
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := cloneMap(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// syncRevision makes the new replica set the latest revision (after an
// undo, an old template becomes the newest again) and gives it the
// deployment's minReadySeconds.
func (d *deployments) syncRevision(ctx context.Context, s *deploymentState) error {
	want := rollout.Revision(s.newRS)
	if m := rollout.MaxRevision(s.old); want <= m {
		want = m + 1
	}
	revision := strconv.FormatInt(want, 10)
	minReady := s.dp.GetSpec().GetMinReadySeconds()
	if rollout.Revision(s.newRS) != want || s.newRS.GetSpec().GetMinReadySeconds() != minReady {
		cctx, cancel := call(ctx)
		updated, err := d.c.ReplicaSets().Modify(cctx, s.newRS.GetMetadata().GetNamespace(), s.newRS.GetMetadata().GetName(), func(cur *skiffv1.ReplicaSet) error {
			if cur.Metadata.Annotations == nil {
				cur.Metadata.Annotations = map[string]string{}
			}
			cur.Metadata.Annotations[rollout.RevisionAnnotation] = revision
			cur.Spec.MinReadySeconds = minReady
			return nil
		})
		cancel()
		if err != nil {
			return fmt.Errorf("deployment: set revision of %s: %w", s.newRS.GetMetadata().GetName(), err)
		}
		s.replace(s.newRS, updated)
		s.newRS = updated
	}
	return d.setDeploymentRevision(ctx, s, revision)
}

// replace swaps a replica set for its updated version in s.all.
func (s *deploymentState) replace(old, updated *skiffv1.ReplicaSet) {
	for i, rs := range s.all {
		if rs == old {
			s.all[i] = updated
		}
	}
	for i, rs := range s.old {
		if rs == old {
			s.old[i] = updated
		}
	}
}

func (d *deployments) setDeploymentRevision(ctx context.Context, s *deploymentState, revision string) error {
	if s.dp.GetMetadata().GetAnnotations()[rollout.RevisionAnnotation] == revision {
		return nil
	}
	cctx, cancel := call(ctx)
	defer cancel()
	uid := s.dp.GetMetadata().GetUid()
	updated, err := d.c.Deployments().Modify(cctx, s.dp.GetMetadata().GetNamespace(), s.dp.GetMetadata().GetName(), func(cur *skiffv1.Deployment) error {
		if cur.GetMetadata().GetUid() != uid {
			return errors.New("the deployment was replaced")
		}
		if cur.Metadata.Annotations == nil {
			cur.Metadata.Annotations = map[string]string{}
		}
		if cur.Metadata.Annotations[rollout.RevisionAnnotation] == revision {
			return client.ErrNoChange
		}
		cur.Metadata.Annotations[rollout.RevisionAnnotation] = revision
		return nil
	})
	if client.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deployment: set revision of %s: %w", s.key, err)
	}
	s.dp.Metadata.Annotations = maps.Clone(updated.GetMetadata().GetAnnotations())
	s.dp.Metadata.ResourceVersion = updated.GetMetadata().GetResourceVersion()
	return nil
}

// apply scales replica sets, recording each step as an event on the
// deployment.
func (d *deployments) apply(ctx context.Context, s *deploymentState, steps []rollout.Scale) error {
	for _, st := range steps {
		rs := st.RS
		from := rs.GetSpec().GetReplicas()
		cctx, cancel := call(ctx)
		changed := false
		updated, err := d.c.ReplicaSets().Modify(cctx, rs.GetMetadata().GetNamespace(), rs.GetMetadata().GetName(), func(cur *skiffv1.ReplicaSet) error {
			if cur.GetMetadata().GetUid() != rs.GetMetadata().GetUid() {
				return errors.New("the replica set was replaced")
			}
			// The cache may lag: from is what the set really had.
			from, changed = cur.GetSpec().GetReplicas(), cur.GetSpec().GetReplicas() != st.Replicas
			if !changed {
				return client.ErrNoChange
			}
			cur.Spec.Replicas = proto.Int32(st.Replicas)
			return nil
		})
		cancel()
		if err != nil {
			return fmt.Errorf("deployment: scale replica set %s to %d: %w", rs.GetMetadata().GetName(), st.Replicas, err)
		}
		s.replace(rs, updated)
		if s.newRS == rs {
			s.newRS = updated
		}
		if !changed {
			continue // another sync made this step already
		}
		verb := "up"
		if st.Replicas < from {
			verb = "down"
		}
		d.log.Info("scaled replica set", "deployment", s.key, "replicaset", rs.GetMetadata().GetName(), "from", from, "to", st.Replicas)
		d.rec.event(ctx, "Deployment", s.dp, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s to %d", verb, rs.GetMetadata().GetName(), st.Replicas)
	}
	return nil
}

// cleanup deletes the old replica sets beyond revisionHistoryLimit.
func (d *deployments) cleanup(ctx context.Context, s *deploymentState) error {
	var errs []error
	for _, rs := range rollout.Cleanup(s.dp, s.old) {
		cctx, cancel := call(ctx)
		_, _, err := d.c.ReplicaSets().Delete(cctx, rs.GetMetadata().GetNamespace(), rs.GetMetadata().GetName(), client.DeleteOptions{UID: rs.GetMetadata().GetUid()})
		cancel()
		if err != nil && !client.IsNotFound(err) && !client.IsConflict(err) {
			errs = append(errs, fmt.Errorf("deployment: delete old replica set %s: %w", rs.GetMetadata().GetName(), err))
			continue
		}
		d.log.Info("deleted old replica set", "deployment", s.key, "replicaset", rs.GetMetadata().GetName())
	}
	return errors.Join(errs...)
}

// writeStatus writes the counts and the conditions: Available (enough pods
// available), Progressing (the rollout moves, completed, paused or is
// past its deadline) and ReplicaFailure (copied from the new set).
func (d *deployments) writeStatus(ctx context.Context, s *deploymentState) error {
	dp := s.dp
	prev := dp.GetStatus()
	st := rollout.Status(dp, s.all, s.newRS)
	st.Conditions = cloneConditions(prev.GetConditions())
	now := time.Now()

	if st.AvailableReplicas >= dp.GetSpec().GetReplicas()-rollout.MaxUnavailable(dp) {
		skiffv1.SetCondition(&st.Conditions, &skiffv1.Condition{Type: "Available", Status: "True", Reason: reasonMinimumAvailable, Message: "Deployment has minimum availability."}, now)
	} else {
		skiffv1.SetCondition(&st.Conditions, &skiffv1.Condition{Type: "Available", Status: "False", Reason: reasonMinimumUnavailable, Message: "Deployment does not have minimum availability."}, now)
	}
	d.progressing(s, prev, st, now)

	if f := skiffv1.FindCondition(s.newRS.GetStatus().GetConditions(), "ReplicaFailure"); f != nil && f.GetStatus() == "True" {
		skiffv1.SetCondition(&st.Conditions, &skiffv1.Condition{Type: "ReplicaFailure", Status: "True", Reason: f.GetReason(), Message: f.GetMessage()}, now)
	} else {
		skiffv1.RemoveCondition(&st.Conditions, "ReplicaFailure")
	}
	if proto.Equal(st, prev) {
		return nil
	}
	next := &skiffv1.Deployment{Metadata: proto.Clone(dp.GetMetadata()).(*skiffv1.ObjectMeta), Status: st}
	next.Metadata.ResourceVersion = "" // the only writer of the status; the uid guards
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := d.c.Deployments().UpdateStatus(cctx, next)
	if client.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deployment: update status of %s: %w", s.key, err)
	}
	return nil
}

// progressing sets the Progressing condition, as Kubernetes'
// syncRolloutStatus: its heartbeat (Kubernetes' lastUpdateTime) moves
// whenever the rollout made progress, and a rollout whose heartbeat is
// older than progressDeadlineSeconds has timed out.
func (d *deployments) progressing(s *deploymentState, prev, st *skiffv1.DeploymentStatus, now time.Time) {
	dp := s.dp
	cur := skiffv1.FindCondition(st.Conditions, "Progressing")
	set := func(status, reason, msg string, beat bool) {
		c := &skiffv1.Condition{Type: "Progressing", Status: status, Reason: reason, Message: msg}
		if beat || cur == nil {
			c.LastHeartbeatTime = timestamppb.New(now)
		} else {
			c.LastHeartbeatTime = cur.GetLastHeartbeatTime()
		}
		skiffv1.SetCondition(&st.Conditions, c, now)
	}
	rsName := ""
	if s.newRS != nil {
		rsName = s.newRS.GetMetadata().GetName()
	}
	switch {
	case dp.GetSpec().GetPaused():
		if cur.GetReason() != reasonPaused {
			set("Unknown", reasonPaused, "Deployment is paused", true)
		}
		return
	case cur.GetReason() == reasonPaused:
		set("Unknown", reasonResumed, "Deployment is resumed", true)
		return
	case s.created:
		set("True", reasonNewRSCreated, fmt.Sprintf("Created new replica set %q", rsName), true)
		return
	case cur.GetReason() == reasonNewRSAvailable && st.Replicas == st.UpdatedReplicas:
		return // completed before, and nothing new since
	case s.newRS != nil && rollout.Complete(dp, st):
		set("True", reasonNewRSAvailable, fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName), true)
		return
	case cur == nil || rollout.Progressed(prev, st):
		set("True", reasonRSUpdated, fmt.Sprintf("ReplicaSet %q is progressing.", rsName), true)
		return
	}
	deadline := time.Duration(dp.GetSpec().GetProgressDeadlineSeconds()) * time.Second
	left := deadline - now.Sub(cur.GetLastHeartbeatTime().AsTime())
	if left <= 0 {
		// Once per replica set: two syncs on a lagging cache both see
		// the deadline pass.
		if _, told := d.timedOut.LoadOrStore(dp.GetMetadata().GetUid()+"/"+rsName, true); !told && cur.GetReason() != reasonTimedOut {
			d.log.Info("rollout exceeded its progress deadline", "deployment", s.key, "replicaset", rsName)
			d.rec.event(context.Background(), "Deployment", dp, "Warning", reasonTimedOut, "ReplicaSet %q has timed out progressing.", rsName)
		}
		set("False", reasonTimedOut, fmt.Sprintf("ReplicaSet %q has timed out progressing.", rsName), false)
		return
	}
	// Nothing else happens when the deadline passes: look again then.
	d.r.queue.AddAfter(s.key, left+10*time.Millisecond)
}

func cloneConditions(cs []*skiffv1.Condition) []*skiffv1.Condition {
	out := make([]*skiffv1.Condition, len(cs))
	for i, c := range cs {
		out[i] = proto.Clone(c).(*skiffv1.Condition)
	}
	return out
}
