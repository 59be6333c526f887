package validation

import skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"

// validateLease checks a Lease as coordination.k8s.io does: the counts
// are never negative (zero means unset); the holder is any string.
func validateLease(e *errs, s *skiffv1.LeaseSpec) {
	if s.GetLeaseDurationSeconds() < 0 {
		e.add("spec.leaseDurationSeconds", "must be positive (or left out), not %d", s.GetLeaseDurationSeconds())
	}
	if s.GetLeaseTransitions() < 0 {
		e.add("spec.leaseTransitions", "must not be negative, not %d", s.GetLeaseTransitions())
	}
}
