package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// baseCronJob is a valid CronJob but for what mutate changes.
func baseCronJob(mutate func(*skiffv1.CronJob)) *skiffv1.CronJob {
	spec := basePod().Spec
	spec.RestartPolicy = "OnFailure"
	cj := &skiffv1.CronJob{Metadata: &skiffv1.ObjectMeta{Name: "hello", Namespace: "d", Uid: "u-1"},
		Spec: &skiffv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: &skiffv1.JobTemplateSpec{
			Spec: &skiffv1.JobSpec{Template: &skiffv1.PodTemplateSpec{Spec: spec}}}}}
	if mutate != nil {
		mutate(cj)
	}
	return cj
}

func TestCronJobValidation(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*skiffv1.CronJob)
		want   string
	}{
		{"valid", nil, ""},
		{"descriptor", func(c *skiffv1.CronJob) { c.Spec.Schedule = "@weekly" }, ""},
		{"time zone", func(c *skiffv1.CronJob) { c.Spec.TimeZone = "Europe/Berlin" }, ""},
		{"no schedule", func(c *skiffv1.CronJob) { c.Spec.Schedule = "" }, "spec.schedule: required"},
		{"bad schedule", func(c *skiffv1.CronJob) { c.Spec.Schedule = "61 * * * *" }, `spec.schedule: minute field "61": 61 is out of range 0-59`},
		{"TZ in schedule", func(c *skiffv1.CronJob) { c.Spec.Schedule = "CRON_TZ=Etc/UTC 0 * * * *" },
			"spec.schedule: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
		{"unknown zone", func(c *skiffv1.CronJob) { c.Spec.TimeZone = "Moon/Tranquility" }, `spec.timeZone: "Moon/Tranquility" is not a known IANA time zone`},
		{"Local zone", func(c *skiffv1.CronJob) { c.Spec.TimeZone = "Local" }, "spec.timeZone"},
		{"policy", func(c *skiffv1.CronJob) { c.Spec.ConcurrencyPolicy = "Queue" }, `spec.concurrencyPolicy: "Queue"`},
		{"Forbid", func(c *skiffv1.CronJob) { c.Spec.ConcurrencyPolicy = "Forbid" }, ""},
		{"negative deadline", func(c *skiffv1.CronJob) { c.Spec.StartingDeadlineSeconds = proto.Int64(-1) }, "spec.startingDeadlineSeconds"},
		{"negative history", func(c *skiffv1.CronJob) { c.Spec.FailedJobsHistoryLimit = proto.Int32(-1) }, "spec.failedJobsHistoryLimit"},
		{"long name", func(c *skiffv1.CronJob) { c.Metadata.Name = strings.Repeat("a", 53) }, "at most 52"},
		{"no job template", func(c *skiffv1.CronJob) { c.Spec.JobTemplate = nil }, "spec.jobTemplate.spec: required"},
		{"template restartPolicy Always", func(c *skiffv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "Always" },
			`spec.jobTemplate.spec.template.spec.restartPolicy: "Always"`},
		{"template backoffLimit", func(c *skiffv1.CronJob) { c.Spec.JobTemplate.Spec.BackoffLimit = proto.Int32(-1) },
			"spec.jobTemplate.spec.backoffLimit"},
		{"template without containers", func(c *skiffv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.Containers = nil },
			"spec.jobTemplate.spec.template.spec.containers"},
		{"template labels", func(c *skiffv1.CronJob) {
			c.Spec.JobTemplate.Metadata = &skiffv1.ObjectMeta{Labels: map[string]string{"bad key!": "x"}}
		}, "spec.jobTemplate.metadata.labels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantValidation(t, baseCronJob(c.mutate), c.want)
		})
	}
}

func TestCronJobDefaults(t *testing.T) {
	cj := baseCronJob(nil)
	Default(cj)
	s := cj.GetSpec()
	if s.GetConcurrencyPolicy() != "Allow" || s.Suspend == nil || s.GetSuspend() ||
		s.GetSuccessfulJobsHistoryLimit() != 3 || s.GetFailedJobsHistoryLimit() != 1 {
		t.Errorf("defaults %v: want Allow, suspend false, history 3 and 1", s)
	}
	// The template's Job is defaulted when it is made, not in the CronJob.
	if js := s.GetJobTemplate().GetSpec(); js.Selector != nil || js.BackoffLimit != nil {
		t.Errorf("job template spec %v was defaulted as a Job", js)
	}
}
