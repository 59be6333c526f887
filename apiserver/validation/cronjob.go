package validation

import (
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/cron"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// MaxCronJobNameLength leaves room for the 11 characters ("-" and the
// scheduled minute) the CronJob's Jobs add to its name, as Kubernetes.
const MaxCronJobNameLength = 52

// defaultCronJob fills in a CronJob as Kubernetes' batch/v1 does:
// concurrencyPolicy Allow, suspend false, history limits 3 and 1, and
// the pod defaults in its job template.
func defaultCronJob(o *skiffv1.CronJob) {
	if o.Spec == nil {
		o.Spec = &skiffv1.CronJobSpec{}
	}
	s := o.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = "Allow"
	}
	if s.Suspend == nil {
		s.Suspend = proto.Bool(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = proto.Int32(3)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = proto.Int32(1)
	}
	if t := s.GetJobTemplate().GetSpec().GetTemplate(); t != nil {
		if t.Spec == nil {
			t.Spec = &skiffv1.PodSpec{}
		}
		DefaultPodSpec(t.Spec)
	}
}

func validateCronJob(e *errs, o *skiffv1.CronJob) {
	if n := o.GetMetadata().GetName(); len(n) > MaxCronJobNameLength {
		e.add("metadata.name", "%q is %d characters; a CronJob's name may have at most %d, since its Jobs add 11", n, len(n), MaxCronJobNameLength)
	}
	s := o.GetSpec()
	if s.GetSchedule() == "" {
		e.add("spec.schedule", "required, e.g. \"*/5 * * * *\" or \"@hourly\"")
	} else if _, err := cron.Parse(s.GetSchedule()); err != nil {
		e.add("spec.schedule", "%v", err)
	}
	if tz := s.GetTimeZone(); tz != "" {
		if _, err := cron.LoadLocation(tz); err != nil {
			e.add("spec.timeZone", "%v", err)
		}
	}
	checkOneOf(e, "spec.concurrencyPolicy", s.GetConcurrencyPolicy(), "Allow", "Forbid", "Replace")
	if s.StartingDeadlineSeconds != nil && s.GetStartingDeadlineSeconds() < 0 {
		e.add("spec.startingDeadlineSeconds", "%d must not be negative", s.GetStartingDeadlineSeconds())
	}
	if s.GetSuccessfulJobsHistoryLimit() < 0 {
		e.add("spec.successfulJobsHistoryLimit", "%d must not be negative", s.GetSuccessfulJobsHistoryLimit())
	}
	if s.GetFailedJobsHistoryLimit() < 0 {
		e.add("spec.failedJobsHistoryLimit", "%d must not be negative", s.GetFailedJobsHistoryLimit())
	}
	jt := s.GetJobTemplate()
	if jt.GetSpec() == nil {
		e.add("spec.jobTemplate.spec", "required: the Job each run makes")
		return
	}
	checkLabels(e, "spec.jobTemplate.metadata.labels", jt.GetMetadata().GetLabels())
	// The Job a run makes is defaulted (its selector of its own UID) and
	// validated as any Job; check it here the same way, as it will be.
	job := &skiffv1.Job{
		Metadata: &skiffv1.ObjectMeta{Name: o.GetMetadata().GetName(), Uid: "template"},
		Spec:     proto.Clone(jt.GetSpec()).(*skiffv1.JobSpec),
	}
	defaultJob(job)
	sub := &errs{}
	validateJob(sub, job.Spec)
	for _, fe := range sub.list {
		e.add("spec.jobTemplate."+fe.Path, "%s", strings.ReplaceAll(fe.Msg, "spec.template.", "spec.jobTemplate.spec.template."))
	}
}
