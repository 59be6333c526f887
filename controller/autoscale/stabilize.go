package autoscale

import "time"

// Stabilizer remembers recent recommendations of one autoscaler and damps
// them as Kubernetes' HPA does with its behavior windows: a scale-down
// happens only once every recommendation within the scale-down window
// agrees with it, a scale-up only once every one within the scale-up
// window does (with no scale-up window, at once). It is not safe for
// concurrent use; the controller holds one per autoscaler and syncs each
// key on one worker at a time.
type Stabilizer struct {
	recs []timedRec
}

type timedRec struct {
	at       time.Time
	replicas int32
}

// Stabilize records rec at now and returns the replica count to go to
// from current: no higher than the lowest recommendation within up before
// now, no lower than the highest within down (rec included in both).
func (s *Stabilizer) Stabilize(now time.Time, up, down time.Duration, current, rec int32) int32 {
	keep := max(up, down)
	kept := s.recs[:0]
	for _, r := range s.recs {
		if r.at.After(now.Add(-keep)) {
			kept = append(kept, r)
		}
	}
	s.recs = append(kept, timedRec{at: now, replicas: rec})
	upRec, downRec := rec, rec
	for _, r := range s.recs {
		if r.at.After(now.Add(-up)) {
			upRec = min(upRec, r.replicas)
		}
		if r.at.After(now.Add(-down)) {
			downRec = max(downRec, r.replicas)
		}
	}
	out := current
	if out < upRec {
		out = upRec
	}
	if out > downRec {
		out = downRec
	}
	return out
}
