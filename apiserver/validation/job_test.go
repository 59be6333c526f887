package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// baseJob is a valid Job but for what mutate changes; it has a UID, as
// the server gives before defaulting.
func baseJob(mutate func(*skiffv1.JobSpec)) *skiffv1.Job {
	spec := basePod().Spec
	spec.RestartPolicy = "Never"
	j := &skiffv1.Job{Metadata: &skiffv1.ObjectMeta{Name: "pi", Namespace: "d", Uid: "u-1"},
		Spec: &skiffv1.JobSpec{Template: &skiffv1.PodTemplateSpec{Spec: spec}}}
	if mutate != nil {
		mutate(j.Spec)
	}
	return j
}

func exitCodes(action, op string, values ...int32) *skiffv1.PodFailurePolicy {
	return &skiffv1.PodFailurePolicy{Rules: []*skiffv1.PodFailurePolicyRule{{Action: action,
		OnExitCodes: &skiffv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}}}
}

func TestJobValidation(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*skiffv1.JobSpec)
		want   string
	}{
		{"valid", nil, ""},
		{"restartPolicy left out is Always, refused", func(s *skiffv1.JobSpec) { s.Template.Spec.RestartPolicy = "" },
			`spec.template.spec.restartPolicy: "Always"`},
		{"OnFailure", func(s *skiffv1.JobSpec) { s.Template.Spec.RestartPolicy = "OnFailure" }, ""},
		{"negative completions", func(s *skiffv1.JobSpec) { s.Completions = proto.Int32(-1) }, "spec.completions: -1 must not be negative"},
		{"negative parallelism", func(s *skiffv1.JobSpec) { s.Parallelism = proto.Int32(-2) }, "spec.parallelism"},
		{"negative backoffLimit", func(s *skiffv1.JobSpec) { s.BackoffLimit = proto.Int32(-1) }, "spec.backoffLimit"},
		{"zero deadline", func(s *skiffv1.JobSpec) { s.ActiveDeadlineSeconds = proto.Int64(0) }, "spec.activeDeadlineSeconds: 0 must be positive"},
		{"negative ttl", func(s *skiffv1.JobSpec) { s.TtlSecondsAfterFinished = proto.Int32(-1) }, "spec.ttlSecondsAfterFinished"},
		{"unknown mode", func(s *skiffv1.JobSpec) { s.CompletionMode = "Sparse" }, `spec.completionMode: "Sparse"`},
		{"Indexed without completions", func(s *skiffv1.JobSpec) { s.CompletionMode, s.Parallelism = "Indexed", proto.Int32(2) },
			"spec.completions: required when completionMode is Indexed"},
		{"policy with OnFailure", func(s *skiffv1.JobSpec) {
			s.Template.Spec.RestartPolicy, s.PodFailurePolicy = "OnFailure", exitCodes("FailJob", "In", 1)
		}, "spec.podFailurePolicy: only valid when spec.template.spec.restartPolicy is Never"},
		{"policy action", func(s *skiffv1.JobSpec) { s.PodFailurePolicy = exitCodes("Restart", "In", 1) }, `spec.podFailurePolicy.rules[0].action: "Restart"`},
		{"policy operator defaults to In", func(s *skiffv1.JobSpec) { s.PodFailurePolicy = exitCodes("Ignore", "", 3) }, ""},
		{"policy operator", func(s *skiffv1.JobSpec) { s.PodFailurePolicy = exitCodes("Ignore", "Gt", 3) }, "rules[0].onExitCodes.operator"},
		{"policy In 0", func(s *skiffv1.JobSpec) { s.PodFailurePolicy = exitCodes("Ignore", "In", 0) }, "rules[0].onExitCodes.values[0]: 0 is success"},
		{"policy without codes", func(s *skiffv1.JobSpec) {
			s.PodFailurePolicy = &skiffv1.PodFailurePolicy{Rules: []*skiffv1.PodFailurePolicyRule{{Action: "Ignore"}}}
		}, "rules[0].onExitCodes: required"},
		{"selector not matching", func(s *skiffv1.JobSpec) {
			s.Selector = &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		}, "spec.selector"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantValidation(t, baseJob(c.mutate), c.want)
		})
	}
}

func TestJobDefaults(t *testing.T) {
	j := baseJob(nil)
	Default(j)
	s := j.GetSpec()
	if s.GetCompletions() != 1 || s.GetParallelism() != 1 || s.GetBackoffLimit() != 6 || s.GetCompletionMode() != "NonIndexed" {
		t.Errorf("defaults %v: want completions 1, parallelism 1, backoffLimit 6, NonIndexed", s)
	}
	if got := s.GetSelector().GetMatchLabels()[JobControllerUIDLabel]; got != "u-1" {
		t.Errorf("selector %v: want the Job's UID", s.GetSelector())
	}
	l := s.GetTemplate().GetMetadata().GetLabels()
	if l[JobControllerUIDLabel] != "u-1" || l[JobNameLabel] != "pi" || l["job-name"] != "pi" {
		t.Errorf("template labels %v", l)
	}
	// A work queue: parallelism without completions keeps completions unset.
	q := baseJob(func(s *skiffv1.JobSpec) { s.Parallelism = proto.Int32(3) })
	Default(q)
	if q.Spec.Completions != nil {
		t.Errorf("completions %d, want unset", q.Spec.GetCompletions())
	}
}

func TestJobTemplateIsImmutable(t *testing.T) {
	old := baseJob(nil)
	Default(old)
	next := proto.Clone(old).(*skiffv1.Job)
	next.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	if err := ValidateUpdate(old, next); err == nil || !strings.Contains(err.Error(), "spec.template: cannot change") {
		t.Errorf("changed template: %v", err)
	}
	next = proto.Clone(old).(*skiffv1.Job)
	next.Spec.Parallelism = proto.Int32(4)
	if err := ValidateUpdate(old, next); err != nil {
		t.Errorf("parallelism may change: %v", err)
	}
}
