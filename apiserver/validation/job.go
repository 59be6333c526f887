package validation

import (
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Labels a Job's pods carry, as in Kubernetes: its selector matches the
// controller-uid one, so a Job never sees another Job's pods.
const (
	JobControllerUIDLabel = "batch.kubernetes.io/controller-uid"
	JobNameLabel          = "batch.kubernetes.io/job-name"
)

// defaultJob fills in a Job as Kubernetes' batch/v1 does: parallelism 1,
// completions 1 when both are left out, backoffLimit 6, NonIndexed, and
// a selector of the Job's own UID put on the template's labels.
func defaultJob(o *skiffv1.Job) {
	if o.Spec == nil {
		o.Spec = &skiffv1.JobSpec{}
	}
	s := o.Spec
	if s.Completions == nil && s.Parallelism == nil {
		one := int32(1)
		s.Completions = &one
	}
	if s.Parallelism == nil {
		one := int32(1)
		s.Parallelism = &one
	}
	if s.BackoffLimit == nil {
		six := int32(6)
		s.BackoffLimit = &six
	}
	if s.CompletionMode == "" {
		s.CompletionMode = "NonIndexed"
	}
	for _, r := range s.GetPodFailurePolicy().GetRules() {
		if r.OnExitCodes != nil && r.OnExitCodes.Operator == "" {
			r.OnExitCodes.Operator = "In"
		}
	}
	if s.Template == nil {
		return
	}
	if s.Template.Spec == nil {
		s.Template.Spec = &skiffv1.PodSpec{}
	}
	DefaultPodSpec(s.Template.Spec)
	uid := o.GetMetadata().GetUid()
	if uid == "" {
		return
	}
	if s.Template.Metadata == nil {
		s.Template.Metadata = &skiffv1.ObjectMeta{}
	}
	if s.Template.Metadata.Labels == nil {
		s.Template.Metadata.Labels = map[string]string{}
	}
	l := s.Template.Metadata.Labels
	l[JobControllerUIDLabel] = uid
	l[JobNameLabel] = o.GetMetadata().GetName()
	// The unprefixed names older tools select on.
	l["controller-uid"] = uid
	l["job-name"] = o.GetMetadata().GetName()
	if s.Selector == nil {
		s.Selector = &skiffv1.LabelSelector{MatchLabels: map[string]string{JobControllerUIDLabel: uid}}
	}
}

func validateJob(e *errs, s *skiffv1.JobSpec) {
	if s.Parallelism != nil && s.GetParallelism() < 0 {
		e.add("spec.parallelism", "%d must not be negative", s.GetParallelism())
	}
	if s.Completions != nil && s.GetCompletions() < 0 {
		e.add("spec.completions", "%d must not be negative", s.GetCompletions())
	}
	if s.GetBackoffLimit() < 0 {
		e.add("spec.backoffLimit", "%d must not be negative", s.GetBackoffLimit())
	}
	if s.ActiveDeadlineSeconds != nil && s.GetActiveDeadlineSeconds() <= 0 {
		e.add("spec.activeDeadlineSeconds", "%d must be positive", s.GetActiveDeadlineSeconds())
	}
	if s.TtlSecondsAfterFinished != nil && s.GetTtlSecondsAfterFinished() < 0 {
		e.add("spec.ttlSecondsAfterFinished", "%d must not be negative", s.GetTtlSecondsAfterFinished())
	}
	checkOneOf(e, "spec.completionMode", s.GetCompletionMode(), "NonIndexed", "Indexed")
	if s.GetCompletionMode() == "Indexed" && s.Completions == nil {
		e.add("spec.completions", "required when completionMode is Indexed")
	}
	if s.GetTemplate() == nil {
		e.add("spec.template", "required")
		return
	}
	rp := s.GetTemplate().GetSpec().GetRestartPolicy()
	checkOneOf(e, "spec.template.spec.restartPolicy", rp, "OnFailure", "Never")
	if s.GetPodFailurePolicy() != nil && rp != "Never" {
		e.add("spec.podFailurePolicy", "only valid when spec.template.spec.restartPolicy is Never")
	}
	for i, r := range s.GetPodFailurePolicy().GetRules() {
		path := idx("spec.podFailurePolicy.rules", i)
		checkOneOf(e, path+".action", r.GetAction(), "FailJob", "Ignore", "Count")
		c := r.GetOnExitCodes()
		if c == nil {
			e.add(path+".onExitCodes", "required: skiff matches failed pods by exit codes (onPodConditions is not supported by skiff yet)")
			continue
		}
		checkOneOf(e, path+".onExitCodes.operator", c.GetOperator(), "In", "NotIn")
		if len(c.GetValues()) == 0 {
			e.add(path+".onExitCodes.values", "required: at least one exit code")
		}
		for j, v := range c.GetValues() {
			if v == 0 && c.GetOperator() == "In" {
				e.add(idx(path+".onExitCodes.values", j), "0 is success, never a failure; it cannot be matched with In")
			}
		}
	}
	sel, err := labels.FromLabelSelector(s.GetSelector())
	switch {
	case err != nil:
		e.add("spec.selector", "%v", err)
	case sel.Empty():
		e.add("spec.selector", "required")
	case !sel.Matches(s.Template.GetMetadata().GetLabels()):
		e.add("spec.selector", "%q does not match the template's labels %v", sel.String(), s.Template.GetMetadata().GetLabels())
	}
	checkLabels(e, "spec.template.metadata.labels", s.Template.GetMetadata().GetLabels())
	validatePodSpec(e, "spec.template.spec", s.Template.GetSpec())
	if s.Template.GetSpec().GetNodeName() != "" {
		e.add("spec.template.spec.nodeName", "must be empty; the scheduler places the pods")
	}
}
