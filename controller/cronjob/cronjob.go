// Package cronjob holds what a CronJob's runs are made of, shared by the
// controller that makes them on schedule and `skiff create job
// --from=cronjob/NAME`: the Job of a run, its name, and which scheduled
// time is due.
package cronjob

import (
	"fmt"
	"maps"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/cron"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// TooManyMissed: past this many missed times, Kubernetes warns.
const TooManyMissed = 100

// Annotations Kubernetes puts on a CronJob's Jobs.
const (
	// ScheduledTimestamp is the time a Job's run was due.
	ScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp"
	// Instantiate marks a Job made by hand from the CronJob ("manual").
	Instantiate = "cronjob.kubernetes.io/instantiate"
)

// Job is the Job cj's template makes, named name and owned by cj.
func Job(cj *skiffv1.CronJob, name string) *skiffv1.Job {
	m := cj.GetMetadata()
	tmpl := cj.GetSpec().GetJobTemplate()
	job := &skiffv1.Job{
		Metadata: &skiffv1.ObjectMeta{
			Name:            name,
			Namespace:       m.GetNamespace(),
			Labels:          maps.Clone(tmpl.GetMetadata().GetLabels()),
			Annotations:     maps.Clone(tmpl.GetMetadata().GetAnnotations()),
			OwnerReferences: []*skiffv1.OwnerReference{{Kind: "CronJob", Name: m.GetName(), Uid: m.GetUid(), Controller: true}},
		},
		Spec: proto.Clone(tmpl.GetSpec()).(*skiffv1.JobSpec),
	}
	if job.Spec == nil {
		job.Spec = &skiffv1.JobSpec{}
	}
	if m.GetAppliedAs() != nil {
		job.Metadata.AppliedAs = &skiffv1.TypeMeta{ApiVersion: "batch/v1", Kind: "Job"}
	}
	return job
}

// JobName is Kubernetes' name for the run due at: the CronJob's name and
// the time in minutes since the epoch, so each run is made once whatever
// happens to the controller.
func JobName(cj *skiffv1.CronJob, at time.Time) string {
	return fmt.Sprintf("%s-%d", cj.GetMetadata().GetName(), at.Unix()/60)
}

// MostRecentTime is the latest scheduled time at or before now that is
// after the last run (or the CronJob's creation) and within
// startingDeadlineSeconds — the one run that is due, however many were
// missed — with how many times were missed, counted up to one past
// TooManyMissed. Zero when none is due.
func MostRecentTime(cj *skiffv1.CronJob, sched *cron.Schedule, loc *time.Location, now time.Time) (time.Time, int) {
	earliest := cj.GetMetadata().GetCreationTimestamp().AsTime()
	if lst := cj.GetStatus().GetLastScheduleTime(); lst != nil {
		earliest = lst.AsTime()
	}
	if d := cj.GetSpec().StartingDeadlineSeconds; d != nil {
		if from := now.Add(-time.Duration(*d) * time.Second); from.After(earliest) {
			earliest = from
		}
	}
	first := sched.Next(earliest, loc)
	if first.IsZero() || first.After(now) {
		return time.Time{}, 0
	}
	missed := 0
	for t := first; !t.IsZero() && !t.After(now) && missed <= TooManyMissed; t = sched.Next(t, loc) {
		missed++
	}
	// The last time before now, looked for in a window that doubles back
	// from now: a controller down for a year does not walk every minute.
	for w := time.Minute; ; w *= 2 {
		from := now.Add(-w)
		if !from.After(earliest) {
			from = earliest
		}
		if t := sched.Next(from, loc); !t.IsZero() && !t.After(now) {
			last := t
			for t = sched.Next(t, loc); !t.IsZero() && !t.After(now); t = sched.Next(t, loc) {
				last = t
			}
			return last, missed
		}
		if from.Equal(earliest) {
			return first, missed // unreachable: first is in the window
		}
	}
}
