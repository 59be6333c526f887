package cli

import (
	"fmt"
	"strings"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// jobRow is `skiff get jobs` as kubectl 1.28+ prints it: NAME STATUS
// COMPLETIONS DURATION AGE, and CONTAINERS IMAGES SELECTOR with -o wide.
func jobRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	j := o.(*skiffv1.Job)
	return []string{
		j.GetMetadata().GetName(),
		jobStatus(j),
		jobCompletions(j),
		jobDuration(j, now),
		age(j.GetMetadata().GetCreationTimestamp(), now),
	}, templateColumns(j.GetSpec().GetTemplate(), j.GetSpec().GetSelector())
}

// jobStatus is Complete or Failed once a condition says so, else Running.
func jobStatus(j *skiffv1.Job) string {
	for _, c := range j.GetStatus().GetConditions() {
		if c.GetStatus() == "True" && (c.GetType() == "Complete" || c.GetType() == "Failed") {
			return c.GetType()
		}
	}
	return "Running"
}

// jobCompletions is "succeeded/completions"; a work queue (completions
// unset) shows "succeeded/1 of parallelism", as kubectl does.
func jobCompletions(j *skiffv1.Job) string {
	s := j.GetSpec()
	if s.Completions != nil {
		return fmt.Sprintf("%d/%d", j.GetStatus().GetSucceeded(), s.GetCompletions())
	}
	return fmt.Sprintf("%d/1 of %d", j.GetStatus().GetSucceeded(), s.GetParallelism())
}

// jobDuration runs from the start to completion, or to now while running.
func jobDuration(j *skiffv1.Job, now time.Time) string {
	st := j.GetStatus()
	switch {
	case st.GetStartTime() == nil:
		return ""
	case st.GetCompletionTime() != nil:
		return humanDuration(st.GetCompletionTime().AsTime().Sub(st.GetStartTime().AsTime()))
	}
	return humanDuration(now.Sub(st.GetStartTime().AsTime()))
}

func (d *describer) job(j *skiffv1.Job) {
	spec, st := j.GetSpec(), j.GetStatus()
	d.kv(0, "Selector", orNone(formatSelector(spec.GetSelector())))
	d.kv(0, "Parallelism", spec.GetParallelism())
	if spec.Completions != nil {
		d.kv(0, "Completions", spec.GetCompletions())
	} else {
		d.kv(0, "Completions", "<unset>")
	}
	d.kv(0, "Completion Mode", spec.GetCompletionMode())
	if st.GetStartTime() != nil {
		d.kv(0, "Start Time", d.time(st.GetStartTime()))
	}
	if st.GetCompletionTime() != nil {
		d.kv(0, "Completed At", d.time(st.GetCompletionTime()))
		d.kv(0, "Duration", jobDuration(j, d.now))
	}
	if s := spec.ActiveDeadlineSeconds; s != nil {
		d.kv(0, "Active Deadline Seconds", fmt.Sprintf("%ds", *s))
	}
	if s := spec.TtlSecondsAfterFinished; s != nil {
		d.kv(0, "TTL Seconds After Finished", *s)
	}
	d.kv(0, "Backoff Limit", spec.GetBackoffLimit())
	d.kv(0, "Pods Statuses", fmt.Sprintf("%d Active (%d Ready) / %d Succeeded / %d Failed", st.GetActive(), st.GetReady(), st.GetSucceeded(), st.GetFailed()))
	if spec.GetCompletionMode() == "Indexed" {
		d.kv(0, "Completed Indexes", orNone(st.GetCompletedIndexes()))
	}
	d.head(0, "Pod Template")
	d.mapping(1, "Labels", spec.GetTemplate().GetMetadata().GetLabels())
	d.kv(1, "Restart Policy", spec.GetTemplate().GetSpec().GetRestartPolicy())
	d.head(1, "Containers")
	for _, c := range spec.GetTemplate().GetSpec().GetContainers() {
		d.head(2, c.GetName())
		d.kv(3, "Image", c.GetImage())
		if len(c.GetCommand()) > 0 {
			d.kv(3, "Command", strings.Join(c.GetCommand(), " "))
		}
	}
	d.conditions(st.GetConditions())
}
