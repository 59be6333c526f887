package controller_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Forbid: a run due while the last is active does not start, and once
// its startingDeadlineSeconds have passed it is not made up for.
func TestCronJobForbidSkipsWhileActive(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	cj, due := createCronJob(t, ctx, c, newCronJob("once", "* * * * *", func(s *skiffv1.CronJobSpec) {
		s.ConcurrencyPolicy = "Forbid"
		s.StartingDeadlineSeconds = proto.Int64(30)
	}))
	uid := cj.GetMetadata().GetUid()
	advanceTo(clk, due.Add(time.Second))
	first := waitJobs(t, ctx, c, uid, runName("once", due))[0]

	advanceTo(clk, due.Add(time.Minute+time.Second))
	waitFor(t, "the JobAlreadyActive event", func() (bool, error) {
		ev, err := hasEvent(ctx, c, "once", "JobAlreadyActive")
		return ev != nil, err
	})
	stillJobs(t, ctx, c, uid, runName("once", due))

	// The first ends after the second's deadline: the second never runs.
	advanceTo(clk, due.Add(time.Minute+40*time.Second))
	finishRun(t, ctx, c, clk, first, 0)
	waitCronStatus(t, ctx, c, "once", "no run active", func(s *skiffv1.CronJobStatus) bool { return len(s.GetActive()) == 0 })
	stillJobs(t, ctx, c, uid, runName("once", due))
	// Told once, though the Job changed (and the CronJob synced) since.
	if n, err := countEvents(ctx, c, "once", "JobAlreadyActive"); n != 1 || err != nil {
		t.Errorf("%d JobAlreadyActive events (%v), want 1", n, err)
	}

	due3 := due.Add(2 * time.Minute)
	advanceTo(clk, due3.Add(time.Second))
	waitJobs(t, ctx, c, uid, runName("once", due), runName("once", due3))
}

// Replace: a run due while the last is active deletes it and starts.
func TestCronJobReplaceDeletesTheActiveRun(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	cj, due := createCronJob(t, ctx, c, newCronJob("swap", "* * * * *", func(s *skiffv1.CronJobSpec) { s.ConcurrencyPolicy = "Replace" }))
	uid := cj.GetMetadata().GetUid()
	advanceTo(clk, due.Add(time.Second))
	waitJobs(t, ctx, c, uid, runName("swap", due))
	due2 := due.Add(time.Minute)
	advanceTo(clk, due2.Add(time.Second))
	waitJobs(t, ctx, c, uid, runName("swap", due2))
	waitCronStatus(t, ctx, c, "swap", "only the new run active", func(s *skiffv1.CronJobStatus) bool {
		return len(s.GetActive()) == 1 && s.GetActive()[0].GetName() == runName("swap", due2)
	})
}

// A controller that was down for hours starts one run, the most recent
// one, and warns that more than 100 times were missed; one down for a
// few minutes also starts just the most recent.
func TestCronJobMissedSchedulesRunOnce(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	minutely, _ := createCronJob(t, ctx, c, newCronJob("minutely", "* * * * *", nil))
	few, _ := createCronJob(t, ctx, c, newCronJob("fively", "*/5 * * * *", nil))
	created := minutely.GetMetadata().GetCreationTimestamp().AsTime()
	// The controller comes up three hours later.
	now := created.Add(3 * time.Hour)
	clk := controller.NewFakeClock(now)
	startManager(t, srv, controller.WithClock(clk))

	last := now.Truncate(time.Minute)
	waitJobs(t, ctx, c, minutely.GetMetadata().GetUid(), runName("minutely", last))
	waitJobs(t, ctx, c, few.GetMetadata().GetUid(), runName("fively", now.Truncate(5*time.Minute)))
	waitFor(t, "the TooManyMissedTimes warning", func() (bool, error) {
		ev, err := hasEvent(ctx, c, "minutely", "TooManyMissedTimes")
		return ev != nil && ev.GetType() == "Warning", err
	})
	// 36 five-minute times were missed: no warning for that one.
	if ev, err := hasEvent(ctx, c, "fively", "TooManyMissedTimes"); ev != nil || err != nil {
		t.Errorf("fively warned of too many missed times: %v %v", ev, err)
	}
	stillJobs(t, ctx, c, minutely.GetMetadata().GetUid(), runName("minutely", last))
	stillJobs(t, ctx, c, few.GetMetadata().GetUid(), runName("fively", now.Truncate(5*time.Minute)))
}

// Finished Jobs beyond successfulJobsHistoryLimit and
// failedJobsHistoryLimit go, oldest first.
func TestCronJobHistoryLimits(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	cj, due := createCronJob(t, ctx, c, newCronJob("hist", "* * * * *", func(s *skiffv1.CronJobSpec) {
		s.SuccessfulJobsHistoryLimit = proto.Int32(2)
		s.FailedJobsHistoryLimit = proto.Int32(1)
	}))
	uid := cj.GetMetadata().GetUid()
	var names []string
	for i, code := range []int32{0, 0, 0, 1, 1} {
		at := due.Add(time.Duration(i) * time.Minute)
		advanceTo(clk, at.Add(time.Second))
		names = append(names, runName("hist", at))
		var j *skiffv1.Job
		waitFor(t, "run "+names[i], func() (bool, error) {
			var err error
			j, err = c.Jobs().Get(ctx, "default", names[i])
			return err == nil, err
		})
		finishRun(t, ctx, c, clk, j, code)
	}
	// Kept: the two newest successes (runs 1, 2) and the newest failure (4).
	waitJobs(t, ctx, c, uid, names[1], names[2], names[4])
	waitCronStatus(t, ctx, c, "hist", "no run active", func(s *skiffv1.CronJobStatus) bool { return len(s.GetActive()) == 0 })
}

// A suspended CronJob makes no Jobs; resumed, it starts the most recent
// missed run once, as Kubernetes does without a starting deadline.
func TestCronJobSuspend(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	cj, due := createCronJob(t, ctx, c, newCronJob("paused", "* * * * *", func(s *skiffv1.CronJobSpec) { s.Suspend = proto.Bool(true) }))
	uid := cj.GetMetadata().GetUid()
	for i := 0; i < 3; i++ {
		advanceTo(clk, due.Add(time.Duration(i)*time.Minute+time.Second))
	}
	stillJobs(t, ctx, c, uid)
	if _, err := c.CronJobs().Modify(ctx, "default", "paused", func(cur *skiffv1.CronJob) error {
		cur.Spec.Suspend = proto.Bool(false)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitJobs(t, ctx, c, uid, runName("paused", due.Add(2*time.Minute)))
	stillJobs(t, ctx, c, uid, runName("paused", due.Add(2*time.Minute)))
	if _, _, err := c.CronJobs().Delete(ctx, "default", "paused", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}
