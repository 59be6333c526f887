package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/cronjob"
	"github.com/skiff-sh/skiff/cron"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func (cc *cronJobs) sync(ctx context.Context, key string) error {
	cj, ok := cc.cronJobs.Get(key)
	if !ok || cj.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	if !cc.written.caughtUp(key, cj.GetStatus()) {
		return nil // the informer's update of the CronJob queues it again
	}
	now := cc.clock.Now()
	jobs := cc.ownedJobs(cj)
	st := proto.Clone(cj.GetStatus()).(*skiffv1.CronJobStatus)
	if st == nil {
		st = &skiffv1.CronJobStatus{}
	}
	if err := cc.reconcileActive(ctx, cj, jobs, st); err != nil {
		return err
	}
	created, next, syncErr := cc.run(ctx, cj, jobs, st, now)
	if created != nil {
		jobs = append(jobs, created)
	}
	if err := cc.writeStatus(ctx, cj, st); err != nil {
		return errors.Join(syncErr, err)
	}
	cc.trimHistory(ctx, cj, jobs)
	if !next.IsZero() {
		cc.wakes.queueAt(next, key)
	}
	return syncErr
}

// ownedJobs are the Jobs cj controls.
func (cc *cronJobs) ownedJobs(cj *skiffv1.CronJob) []*skiffv1.Job {
	var out []*skiffv1.Job
	for _, j := range cc.jobs.ByIndex(indexOwner, cj.GetMetadata().GetUid()) {
		if ref := controllerRef(j.GetMetadata()); ref != nil && ref.GetUid() == cj.GetMetadata().GetUid() {
			out = append(out, j)
		}
	}
	return out
}

// reconcileActive makes status.active the owned Jobs still running: a
// finished one leaves it (a successful one moving lastSuccessfulTime), a
// running one not listed joins it, and one the server no longer has
// leaves it. The cache may not show a Job made a moment ago, so only the
// server's word removes one.
func (cc *cronJobs) reconcileActive(ctx context.Context, cj *skiffv1.CronJob, jobs []*skiffv1.Job, st *skiffv1.CronJobStatus) error {
	byUID := map[string]*skiffv1.Job{}
	for _, j := range jobs {
		byUID[j.GetMetadata().GetUid()] = j
	}
	listed := map[string]bool{}
	var active []*skiffv1.ObjectReference
	for _, ref := range st.GetActive() {
		listed[ref.GetUid()] = true
		j, ok := byUID[ref.GetUid()]
		if !ok {
			cctx, cancel := call(ctx)
			got, err := cc.c.Jobs().Get(cctx, ref.GetNamespace(), ref.GetName())
			cancel()
			switch {
			case err == nil && got.GetMetadata().GetUid() == ref.GetUid():
				j = got
			case err != nil && !client.IsNotFound(err):
				return fmt.Errorf("cronjob: look up job %s: %w", ref.GetName(), err)
			default:
				cc.rec.event(ctx, "CronJob", cj, "Normal", "MissingJob", "Active job went missing: %v", ref.GetName())
				continue
			}
		}
		if done := findTrueFinish(j.GetStatus()); done != nil {
			cc.sawFinished(ctx, cj, j, done, st)
			continue
		}
		active = append(active, ref)
	}
	for _, j := range jobs {
		if listed[j.GetMetadata().GetUid()] || findTrueFinish(j.GetStatus()) != nil || j.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		active = append(active, jobRef(j))
	}
	sort.Slice(active, func(a, b int) bool { return active[a].GetName() < active[b].GetName() })
	st.Active = active
	return nil
}

func (cc *cronJobs) sawFinished(ctx context.Context, cj *skiffv1.CronJob, j *skiffv1.Job, done *skiffv1.Condition, st *skiffv1.CronJobStatus) {
	if done.GetType() == jobConditionComplete {
		if ct := j.GetStatus().GetCompletionTime(); ct != nil && (st.LastSuccessfulTime == nil || ct.AsTime().After(st.LastSuccessfulTime.AsTime())) {
			st.LastSuccessfulTime = ct
		}
	}
	cc.rec.event(ctx, "CronJob", cj, "Normal", "SawCompletedJob", "Saw completed job: %s, condition: %s", j.GetMetadata().GetName(), done.GetType())
}

func jobRef(j *skiffv1.Job) *skiffv1.ObjectReference {
	m := j.GetMetadata()
	return &skiffv1.ObjectReference{Kind: "Job", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()}
}

// run starts the run that is due, if any, and returns the Job it made
// and the next time to look again (zero: none, e.g. while suspended).
func (cc *cronJobs) run(ctx context.Context, cj *skiffv1.CronJob, jobs []*skiffv1.Job, st *skiffv1.CronJobStatus, now time.Time) (*skiffv1.Job, time.Time, error) {
	spec := cj.GetSpec()
	sched, err := cron.Parse(spec.GetSchedule())
	if err == nil {
		var loc *time.Location
		if loc, err = cron.LoadLocation(spec.GetTimeZone()); err == nil {
			return cc.runDue(ctx, cj, jobs, st, now, sched, loc)
		}
	}
	// Validation refuses these; a zone the binary does not know could
	// still get here. Nothing runs until the CronJob is fixed.
	cc.rec.event(ctx, "CronJob", cj, "Warning", "UnparseableSchedule", "unparseable schedule or time zone: %v", err)
	return nil, time.Time{}, nil
}

func (cc *cronJobs) runDue(ctx context.Context, cj *skiffv1.CronJob, jobs []*skiffv1.Job, st *skiffv1.CronJobStatus, now time.Time, sched *cron.Schedule, loc *time.Location) (*skiffv1.Job, time.Time, error) {
	spec := cj.GetSpec()
	if spec.GetSuspend() {
		return nil, time.Time{}, nil
	}
	next := sched.Next(now, loc)
	due, missed := cronjob.MostRecentTime(cj, sched, loc, now)
	if due.IsZero() {
		return nil, next, nil
	}
	name := cronjob.JobName(cj, due)
	if st.GetLastScheduleTime() != nil && st.GetLastScheduleTime().AsTime().Equal(due) {
		return nil, next, nil
	}
	for _, j := range jobs {
		if j.GetMetadata().GetName() == name {
			// Made, though the status did not say so yet.
			st.LastScheduleTime = timestamppb.New(due)
			return nil, next, nil
		}
	}
	if spec.GetConcurrencyPolicy() == "Forbid" && len(st.GetActive()) > 0 {
		// As Kubernetes: the run waits (lastScheduleTime unmoved), and
		// starts when the active one ends if still within its deadline.
		// Told once, not on every sync while it waits.
		if cc.firstHold(client.KeyOf(cj), due) {
			cc.warnMissed(ctx, cj, missed)
			cc.rec.event(ctx, "CronJob", cj, "Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		}
		return nil, next, nil
	}
	cc.warnMissed(ctx, cj, missed)
	if spec.GetConcurrencyPolicy() == "Replace" {
		for _, ref := range st.GetActive() {
			if err := cc.deleteJob(ctx, cj, ref.GetName(), ref.GetUid()); err != nil {
				return nil, next, err
			}
		}
		st.Active = nil
	}
	job, err := cc.createJob(ctx, cj, name, due)
	if err != nil {
		return nil, next, err
	}
	st.Active = append(st.Active, jobRef(job))
	st.LastScheduleTime = timestamppb.New(due)
	return job, next, nil
}

// warnMissed records Kubernetes' warning when more than 100 scheduled
// times were missed (a controller down long, or a clock that jumped).
func (cc *cronJobs) warnMissed(ctx context.Context, cj *skiffv1.CronJob, missed int) {
	if missed > cronjob.TooManyMissed {
		cc.rec.event(ctx, "CronJob", cj, "Warning", "TooManyMissedTimes",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
}

func (cc *cronJobs) createJob(ctx context.Context, cj *skiffv1.CronJob, name string, due time.Time) (*skiffv1.Job, error) {
	job := cronjob.Job(cj, name)
	if job.Metadata.Annotations == nil {
		job.Metadata.Annotations = map[string]string{}
	}
	job.Metadata.Annotations[cronjob.ScheduledTimestamp] = due.UTC().Format(time.RFC3339)
	cctx, cancel := call(ctx)
	made, err := cc.c.Jobs().Create(cctx, job)
	cancel()
	if client.IsAlreadyExists(err) {
		// Made by an earlier sync whose status write was lost: it is this
		// run if this CronJob owns it.
		cctx, cancel := call(ctx)
		got, gerr := cc.c.Jobs().Get(cctx, job.Metadata.Namespace, name)
		cancel()
		if gerr == nil {
			if ref := controllerRef(got.GetMetadata()); ref != nil && ref.GetUid() == cj.GetMetadata().GetUid() {
				return got, nil
			}
		}
		cc.rec.event(ctx, "CronJob", cj, "Warning", "FailedCreate", "Error creating job: a Job named %s exists and is not this CronJob's", name)
		return nil, fmt.Errorf("cronjob: job %s exists and is not owned by %s", name, client.KeyOf(cj))
	}
	if err != nil {
		cc.rec.event(ctx, "CronJob", cj, "Warning", "FailedCreate", "Error creating job: %v", err)
		return nil, fmt.Errorf("cronjob: create job for %s: %w", client.KeyOf(cj), err)
	}
	cc.rec.event(ctx, "CronJob", cj, "Normal", "SuccessfulCreate", "Created job %s", name)
	return made, nil
}

// deleteJob deletes one of the CronJob's Jobs; its pods follow (the
// garbage collector's cascade).
func (cc *cronJobs) deleteJob(ctx context.Context, cj *skiffv1.CronJob, name, uid string) error {
	cctx, cancel := call(ctx)
	defer cancel()
	_, _, err := cc.c.Jobs().Delete(cctx, cj.GetMetadata().GetNamespace(), name, client.DeleteOptions{UID: uid, Propagation: "Background"})
	if err != nil && !client.IsNotFound(err) && !client.IsConflict(err) {
		cc.rec.event(ctx, "CronJob", cj, "Warning", "FailedDelete", "Deleted job: %v", err)
		return fmt.Errorf("cronjob: delete job %s: %w", name, err)
	}
	cc.rec.event(ctx, "CronJob", cj, "Normal", "SuccessfulDelete", "Deleted job %s", name)
	return nil
}

// trimHistory deletes the oldest finished Jobs beyond the CronJob's
// successfulJobsHistoryLimit and failedJobsHistoryLimit.
func (cc *cronJobs) trimHistory(ctx context.Context, cj *skiffv1.CronJob, jobs []*skiffv1.Job) {
	var succeeded, failed []*skiffv1.Job
	for _, j := range jobs {
		if j.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		switch c := findTrueFinish(j.GetStatus()); {
		case c == nil:
		case c.GetType() == jobConditionComplete:
			succeeded = append(succeeded, j)
		default:
			failed = append(failed, j)
		}
	}
	spec := cj.GetSpec()
	for _, set := range []struct {
		jobs  []*skiffv1.Job
		limit int32
	}{{succeeded, spec.GetSuccessfulJobsHistoryLimit()}, {failed, spec.GetFailedJobsHistoryLimit()}} {
		if int(set.limit) >= len(set.jobs) {
			continue
		}
		sort.Slice(set.jobs, func(a, b int) bool { return jobStarted(set.jobs[a]).Before(jobStarted(set.jobs[b])) })
		for _, j := range set.jobs[:len(set.jobs)-int(set.limit)] {
			if err := cc.deleteJob(ctx, cj, j.GetMetadata().GetName(), j.GetMetadata().GetUid()); err != nil {
				cc.log.Warn("trim history", "cronjob", client.KeyOf(cj), "err", err)
			}
		}
	}
}

// jobStarted orders a CronJob's Jobs: by start time, else creation.
func jobStarted(j *skiffv1.Job) time.Time {
	if t := j.GetStatus().GetStartTime(); t != nil {
		return t.AsTime()
	}
	return j.GetMetadata().GetCreationTimestamp().AsTime()
}

func (cc *cronJobs) writeStatus(ctx context.Context, cj *skiffv1.CronJob, st *skiffv1.CronJobStatus) error {
	if proto.Equal(st, cj.GetStatus()) || (len(st.GetActive()) == 0 && st.LastScheduleTime == nil && st.LastSuccessfulTime == nil && cj.GetStatus() == nil) {
		return nil
	}
	next := &skiffv1.CronJob{Metadata: proto.Clone(cj.GetMetadata()).(*skiffv1.ObjectMeta), Status: st}
	cctx, cancel := call(ctx)
	defer cancel()
	out, err := cc.c.CronJobs().UpdateStatus(cctx, next)
	if client.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cronjob: update status of %s: %w", client.KeyOf(cj), err)
	}
	cc.written.wrote(client.KeyOf(cj), out.GetStatus())
	return nil
}
