package validation

import (
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// defaultReplicationController: Kubernetes' v1 defaults, one replica and,
// when the selector is empty, the template's labels as the selector.
func defaultReplicationController(s *skiffv1.ReplicationControllerSpec) {
	sel := replicationSelector(s.GetSelector())
	defaultPodSet(&s.Replicas, &sel, s.Template)
	if len(s.Selector) == 0 && sel != nil {
		s.Selector = sel.MatchLabels
	}
}

// validateReplicationController checks the spec as a replica set's whose
// selector is the map's labels (equality only): the same count, template
// and selector rules, the same field names.
func validateReplicationController(e *errs, s *skiffv1.ReplicationControllerSpec) {
	validatePodSet(e, "replication controller", s.GetReplicas(), replicationSelector(s.GetSelector()), s.GetTemplate())
	if s.GetMinReadySeconds() < 0 {
		e.add("spec.minReadySeconds", "%d must not be negative", s.GetMinReadySeconds())
	}
}

// replicationSelector is a ReplicationController's selector as a label
// selector; nil when it is empty.
func replicationSelector(m map[string]string) *skiffv1.LabelSelector {
	if len(m) == 0 {
		return nil
	}
	return &skiffv1.LabelSelector{MatchLabels: m}
}
