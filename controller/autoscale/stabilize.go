package autoscale

import "time"

// Stabilizer remembers recent recommendations of one autoscaler and
// answers the highest within the window: a scale-down happens only once
// every recommendation in the window agrees with it, while a scale-up
// (the newest recommendation being the highest) goes through at once.
// It is not safe for concurrent use; the controller holds one per
// autoscaler and syncs each key on one worker at a time.
type Stabilizer struct {
	recs []timedRec
}

type timedRec struct {
	at       time.Time
	replicas int32
}

// Stabilize records rec at now and returns the highest recommendation
// made within window before now (rec included).
func (s *Stabilizer) Stabilize(now time.Time, window time.Duration, rec int32) int32 {
	cutoff := now.Add(-window)
	kept := s.recs[:0]
	for _, r := range s.recs {
		if r.at.After(cutoff) {
			kept = append(kept, r)
		}
	}
	s.recs = append(kept, timedRec{at: now, replicas: rec})
	out := rec
	for _, r := range s.recs {
		out = max(out, r.replicas)
	}
	return out
}
