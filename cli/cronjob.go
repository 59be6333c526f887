package cli

import (
	"fmt"
	"strings"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// cronJobRow is `skiff get cronjobs` as kubectl 1.27+ prints it: NAME
// SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE, and CONTAINERS
// IMAGES SELECTOR with -o wide.
func cronJobRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	cj := o.(*skiffv1.CronJob)
	s, st := cj.GetSpec(), cj.GetStatus()
	last := "<none>"
	if st.GetLastScheduleTime() != nil {
		last = age(st.GetLastScheduleTime(), now)
	}
	return []string{
		cj.GetMetadata().GetName(),
		s.GetSchedule(),
		orNone(s.GetTimeZone()),
		boolTitle(s.GetSuspend()),
		fmt.Sprint(len(st.GetActive())),
		last,
		age(cj.GetMetadata().GetCreationTimestamp(), now),
	}, templateColumns(s.GetJobTemplate().GetSpec().GetTemplate(), s.GetJobTemplate().GetSpec().GetSelector())
}

// boolTitle is how kubectl prints a bool in tables: True or False.
func boolTitle(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func orUnset(s string) string {
	if s == "" {
		return "<unset>"
	}
	return s
}

func (d *describer) cronJob(cj *skiffv1.CronJob) {
	s, st := cj.GetSpec(), cj.GetStatus()
	d.kv(0, "Schedule", s.GetSchedule())
	d.kv(0, "Time Zone", orUnset(s.GetTimeZone()))
	d.kv(0, "Concurrency Policy", s.GetConcurrencyPolicy())
	d.kv(0, "Suspend", boolTitle(s.GetSuspend()))
	d.kv(0, "Successful Job History Limit", s.GetSuccessfulJobsHistoryLimit())
	d.kv(0, "Failed Job History Limit", s.GetFailedJobsHistoryLimit())
	if v := s.StartingDeadlineSeconds; v != nil {
		d.kv(0, "Starting Deadline Seconds", fmt.Sprintf("%ds", *v))
	} else {
		d.kv(0, "Starting Deadline Seconds", "<unset>")
	}
	js := s.GetJobTemplate().GetSpec()
	d.kv(0, "Selector", orUnset(formatSelector(js.GetSelector())))
	if js.Parallelism != nil {
		d.kv(0, "Parallelism", js.GetParallelism())
	} else {
		d.kv(0, "Parallelism", "<unset>")
	}
	if js.Completions != nil {
		d.kv(0, "Completions", js.GetCompletions())
	} else {
		d.kv(0, "Completions", "<unset>")
	}
	if js.BackoffLimit != nil {
		d.kv(0, "Backoff Limit", js.GetBackoffLimit())
	}
	d.podTemplate(js.GetTemplate())
	d.kv(1, "Restart Policy", js.GetTemplate().GetSpec().GetRestartPolicy())
	if st.GetLastScheduleTime() != nil {
		d.kv(0, "Last Schedule Time", d.time(st.GetLastScheduleTime()))
	} else {
		d.kv(0, "Last Schedule Time", "<unset>")
	}
	if st.GetLastSuccessfulTime() != nil {
		d.kv(0, "Last Successful Time", d.time(st.GetLastSuccessfulTime()))
	}
	var active []string
	for _, r := range st.GetActive() {
		active = append(active, r.GetName())
	}
	d.kv(0, "Active Jobs", orNone(strings.Join(active, ", ")))
}
