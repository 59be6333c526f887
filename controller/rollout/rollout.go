// Package rollout is the arithmetic of a Deployment's rollout, as
// Kubernetes' deployment controller does it: given the deployment and its
// replica sets, how many replicas each replica set should have next. It
// reads nothing and writes nothing; the controller applies what it says
// and calls it again on the next event, so each step only needs to be
// right for where things stand now.
package rollout

import (
	"sort"

	"github.com/skiff-sh/skiff/intorpercent"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Scale is one step: set the replica set's spec.replicas.
type Scale struct {
	RS       *skiffv1.ReplicaSet
	Replicas int32
}

// Fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded
// down) against the desired count. Both zero would stall a rollout, so
// maxUnavailable is then 1, as in Kubernetes.
func Fenceposts(d *skiffv1.Deployment) (surge, unavailable int32) {
	ru := d.GetSpec().GetStrategy().GetRollingUpdate()
	desired := int(d.GetSpec().GetReplicas())
	s, errS := intorpercent.Parse(orDefault(ru.GetMaxSurge()))
	u, errU := intorpercent.Parse(orDefault(ru.GetMaxUnavailable()))
	if errS != nil || errU != nil {
		// The server refuses these; an unreadable value surges nothing.
		return 0, 1
	}
	surge, unavailable = int32(s.Of(desired, true)), int32(u.Of(desired, false))
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

func orDefault(s string) string {
	if s == "" {
		return "25%"
	}
	return s
}

// MaxUnavailable is how many of the desired pods may be unavailable
// during the rollout: never more than the desired count, and none for
// Recreate (which takes everything down anyway).
func MaxUnavailable(d *skiffv1.Deployment) int32 {
	desired := d.GetSpec().GetReplicas()
	if d.GetSpec().GetStrategy().GetType() == "Recreate" || desired == 0 {
		return 0
	}
	_, u := Fenceposts(d)
	return min(u, desired)
}

// Sum of the replica sets' spec.replicas.
func specReplicas(sets []*skiffv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range sets {
		if rs != nil {
			n += rs.GetSpec().GetReplicas()
		}
	}
	return n
}

// availableReplicas counts, per set, no more available pods than it is
// to keep: a set just scaled down may still report the pods it is
// deleting, which must not be counted on.
func availableReplicas(sets []*skiffv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range sets {
		if rs != nil {
			n += min(rs.GetStatus().GetAvailableReplicas(), rs.GetSpec().GetReplicas())
		}
	}
	return n
}

// NewReplicas is what the new replica set should scale to now: for
// RollingUpdate, up to desired while all pods together stay within
// desired+maxSurge; for Recreate, desired at once.
func NewReplicas(d *skiffv1.Deployment, all []*skiffv1.ReplicaSet, newRS *skiffv1.ReplicaSet) int32 {
	desired := d.GetSpec().GetReplicas()
	if d.GetSpec().GetStrategy().GetType() == "Recreate" {
		return desired
	}
	surge, _ := Fenceposts(d)
	current := specReplicas(all)
	maxTotal := desired + surge
	if current >= maxTotal {
		return newRS.GetSpec().GetReplicas()
	}
	up := min(maxTotal-current, desired-newRS.GetSpec().GetReplicas())
	return newRS.GetSpec().GetReplicas() + max(up, 0)
}

// ScaleNew is the step for the new replica set, if it needs one: down to
// desired when above it, else NewReplicas.
func ScaleNew(d *skiffv1.Deployment, all []*skiffv1.ReplicaSet, newRS *skiffv1.ReplicaSet) (Scale, bool) {
	desired, cur := d.GetSpec().GetReplicas(), newRS.GetSpec().GetReplicas()
	switch {
	case cur == desired:
		return Scale{}, false
	case cur > desired:
		return Scale{newRS, desired}, true
	}
	n := NewReplicas(d, all, newRS)
	return Scale{newRS, n}, n != cur
}

// ScaleOld is the RollingUpdate's step for the old replica sets: as many
// of their pods go as keeps desired-maxUnavailable pods available,
// counting the new replica set's not yet available pods as lost. Pods of
// old sets that are not available go first (they serve nothing); then
// the oldest sets shrink first.
func ScaleOld(d *skiffv1.Deployment, old []*skiffv1.ReplicaSet, newRS *skiffv1.ReplicaSet) []Scale {
	old = active(old)
	if specReplicas(old) == 0 {
		return nil
	}
	all := append(append([]*skiffv1.ReplicaSet(nil), old...), newRS)
	minAvailable := d.GetSpec().GetReplicas() - MaxUnavailable(d)
	newUnavailable := newRS.GetSpec().GetReplicas() - newRS.GetStatus().GetAvailableReplicas()
	maxScaledDown := specReplicas(all) - minAvailable - max(newUnavailable, 0)
	if maxScaledDown <= 0 {
		return nil
	}
	sortOldestFirst(old)
	// What each old set will have after the steps so far.
	next := map[*skiffv1.ReplicaSet]int32{}
	for _, rs := range old {
		next[rs] = rs.GetSpec().GetReplicas()
	}
	// 1. The unhealthy pods of old sets, up to maxScaledDown.
	var cleaned int32
	for _, rs := range old {
		if cleaned >= maxScaledDown {
			break
		}
		unhealthy := rs.GetSpec().GetReplicas() - rs.GetStatus().GetAvailableReplicas()
		if unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unhealthy)
		next[rs] -= n
		cleaned += n
	}
	// 2. Available pods, as long as enough stay available.
	available := availableReplicas(all)
	if available > minAvailable {
		total := available - minAvailable
		var done int32
		for _, rs := range old {
			if done >= total {
				break
			}
			if next[rs] == 0 {
				continue
			}
			n := min(next[rs], total-done)
			next[rs] -= n
			done += n
		}
	}
	var out []Scale
	for _, rs := range old {
		if next[rs] != rs.GetSpec().GetReplicas() {
			out = append(out, Scale{rs, next[rs]})
		}
	}
	return out
}

// active are the sets with replicas wanted.
func active(sets []*skiffv1.ReplicaSet) []*skiffv1.ReplicaSet {
	var out []*skiffv1.ReplicaSet
	for _, rs := range sets {
		if rs.GetSpec().GetReplicas() > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// Proportional is the step of a paused deployment whose count changed
// (or any that is not rolling): the difference goes to, or comes from,
// the replica sets in proportion to their size, the newest absorbing the
// rounding (a simpler form of Kubernetes' proportional scaling).
func Proportional(d *skiffv1.Deployment, sets []*skiffv1.ReplicaSet) []Scale {
	desired := d.GetSpec().GetReplicas()
	act := active(sets)
	cur := specReplicas(act)
	if cur == desired || len(act) == 0 {
		return nil
	}
	sortOldestFirst(act)
	var out []Scale
	left := desired
	for i, rs := range act {
		var n int32
		if i == len(act)-1 {
			n = left
		} else {
			n = int32(int64(rs.GetSpec().GetReplicas()) * int64(desired) / int64(cur))
		}
		left -= n
		if n != rs.GetSpec().GetReplicas() {
			out = append(out, Scale{rs, n})
		}
	}
	return out
}

// sortOldestFirst orders by creation, then name.
func sortOldestFirst(sets []*skiffv1.ReplicaSet) {
	sort.SliceStable(sets, func(i, j int) bool {
		a, b := sets[i].GetMetadata().GetCreationTimestamp().AsTime(), sets[j].GetMetadata().GetCreationTimestamp().AsTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return sets[i].GetMetadata().GetName() < sets[j].GetMetadata().GetName()
	})
}

// Complete: every desired pod is of the new template and available, and
// no old one is left (Kubernetes' DeploymentComplete).
func Complete(d *skiffv1.Deployment, st *skiffv1.DeploymentStatus) bool {
	desired := d.GetSpec().GetReplicas()
	return st.GetUpdatedReplicas() == desired && st.GetReplicas() == desired &&
		st.GetAvailableReplicas() == desired && st.GetObservedGeneration() >= d.GetMetadata().GetGeneration()
}

// Progressed: the new status moved towards completion since the old one.
func Progressed(old, cur *skiffv1.DeploymentStatus) bool {
	return cur.GetUpdatedReplicas() > old.GetUpdatedReplicas() || cur.GetReplicas() < old.GetReplicas() ||
		cur.GetReadyReplicas() > old.GetReadyReplicas() || cur.GetAvailableReplicas() > old.GetAvailableReplicas()
}

// Status counts the pods of the deployment's replica sets.
func Status(d *skiffv1.Deployment, all []*skiffv1.ReplicaSet, newRS *skiffv1.ReplicaSet) *skiffv1.DeploymentStatus {
	st := &skiffv1.DeploymentStatus{ObservedGeneration: d.GetMetadata().GetGeneration()}
	for _, rs := range all {
		st.Replicas += rs.GetStatus().GetReplicas()
		st.ReadyReplicas += rs.GetStatus().GetReadyReplicas()
		st.AvailableReplicas += rs.GetStatus().GetAvailableReplicas()
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.GetStatus().GetReplicas()
	}
	st.UnavailableReplicas = max(specReplicas(all)-st.AvailableReplicas, 0)
	return st
}

// Cleanup picks the old replica sets to delete: those scaled to zero with
// no pods left, oldest revision first, beyond revisionHistoryLimit.
func Cleanup(d *skiffv1.Deployment, old []*skiffv1.ReplicaSet) []*skiffv1.ReplicaSet {
	limit := int(d.GetSpec().GetRevisionHistoryLimit())
	var idle []*skiffv1.ReplicaSet
	for _, rs := range old {
		if rs.GetSpec().GetReplicas() == 0 && rs.GetStatus().GetReplicas() == 0 && rs.GetMetadata().GetDeletionTimestamp() == nil {
			idle = append(idle, rs)
		}
	}
	if len(idle) <= limit {
		return nil
	}
	sort.SliceStable(idle, func(i, j int) bool { return Revision(idle[i]) < Revision(idle[j]) })
	return idle[:len(idle)-limit]
}
