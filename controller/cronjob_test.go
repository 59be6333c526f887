package controller_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The CronJob tests move the controllers' fake clock from one scheduled
// minute to the next; nothing sleeps for a schedule.

func newCronJob(name, schedule string, mutate func(*skiffv1.CronJobSpec)) *skiffv1.CronJob {
	spec := podSpec("10m")
	spec.RestartPolicy = "Never"
	cj := &skiffv1.CronJob{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.CronJobSpec{Schedule: schedule, TimeZone: "Etc/UTC", JobTemplate: &skiffv1.JobTemplateSpec{
			Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": name}},
			Spec:     &skiffv1.JobSpec{BackoffLimit: proto.Int32(0), Template: &skiffv1.PodTemplateSpec{Spec: spec}},
		}},
	}
	if mutate != nil {
		mutate(cj.Spec)
	}
	return cj
}

// createCronJob creates cj and returns it as stored, with the first
// scheduled minute after its creation.
func createCronJob(t *testing.T, ctx context.Context, c *client.Client, cj *skiffv1.CronJob) (*skiffv1.CronJob, time.Time) {
	t.Helper()
	made, err := c.CronJobs().Create(ctx, cj)
	if err != nil {
		t.Fatal(err)
	}
	return made, made.GetMetadata().GetCreationTimestamp().AsTime().Truncate(time.Minute).Add(time.Minute)
}

// advanceTo moves the clock on to at, if it is not there yet.
func advanceTo(clk *controller.FakeClock, at time.Time) {
	if d := at.Sub(clk.Now()); d > 0 {
		clk.Advance(d)
	}
}

// jobsOf lists the Jobs the CronJob with uid controls, not being
// deleted, by name.
func jobsOf(ctx context.Context, c *client.Client, uid string) ([]*skiffv1.Job, error) {
	all, _, err := c.Jobs().List(ctx, client.ListOptions{Namespace: "default"})
	var out []*skiffv1.Job
	for _, j := range all {
		if ref := j.GetMetadata().GetOwnerReferences(); len(ref) > 0 && ref[0].GetUid() == uid && j.GetMetadata().GetDeletionTimestamp() == nil {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].GetMetadata().GetName() < out[b].GetMetadata().GetName() })
	return out, err
}

func jobNames(jobs []*skiffv1.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.GetMetadata().GetName())
	}
	return out
}

// waitJobs waits until the CronJob's Jobs are exactly names.
func waitJobs(t *testing.T, ctx context.Context, c *client.Client, uid string, names ...string) []*skiffv1.Job {
	t.Helper()
	var jobs []*skiffv1.Job
	want := strings.Join(names, ",")
	waitFor(t, "the CronJob's Jobs to be ["+want+"]", func() (bool, error) {
		var err error
		jobs, err = jobsOf(ctx, c, uid)
		if err != nil {
			return false, err
		}
		if got := jobsState(jobs); strings.Join(jobNames(jobs), ",") != want {
			// Said when it times out: which Jobs stay, and whether they
			// are terminating (and on what).
			return false, fmt.Errorf("jobs are [%s]", got)
		}
		return true, nil
	})
	return jobs
}

// jobsState describes jobs: name, and deletion and finalizers if any.
func jobsState(jobs []*skiffv1.Job) string {
	var out []string
	for _, j := range jobs {
		m := j.GetMetadata()
		s := m.GetName()
		if m.GetDeletionTimestamp() != nil {
			s += fmt.Sprintf(" (terminating, finalizers %v)", m.GetFinalizers())
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// stillJobs checks, for a while, that the CronJob's Jobs stay names.
func stillJobs(t *testing.T, ctx context.Context, c *client.Client, uid string, names ...string) {
	t.Helper()
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		jobs, err := jobsOf(ctx, c, uid)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(jobNames(jobs), ","); got != strings.Join(names, ",") {
			t.Fatalf("jobs %s, want %s", got, strings.Join(names, ","))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func runName(name string, at time.Time) string {
	return name + "-" + strconv.FormatInt(at.Unix()/60, 10)
}

// finishRun ends the Job's one pod with code, as its node would, and
// waits for the Job to finish.
func finishRun(t *testing.T, ctx context.Context, c *client.Client, clk *controller.FakeClock, j *skiffv1.Job, code int32) {
	t.Helper()
	p := runningPod(t, ctx, c, j.GetMetadata().GetUid())
	if err := finish(ctx, c, p, code, clk.Now()); err != nil {
		t.Fatal(err)
	}
	typ := "Complete"
	if code != 0 {
		typ = "Failed"
	}
	waitJobCondition(t, ctx, c, j.GetMetadata().GetName(), typ)
}

func waitCronStatus(t *testing.T, ctx context.Context, c *client.Client, name, what string, cond func(*skiffv1.CronJobStatus) bool) *skiffv1.CronJob {
	t.Helper()
	var cj *skiffv1.CronJob
	waitFor(t, what, func() (bool, error) {
		var err error
		cj, err = c.CronJobs().Get(ctx, "default", name)
		return err == nil && cond(cj.GetStatus()), err
	})
	return cj
}

func hasEvent(ctx context.Context, c *client.Client, name, reason string) (*skiffv1.Event, error) {
	evs, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
	for _, e := range evs {
		if e.GetInvolvedObject().GetKind() == "CronJob" && e.GetInvolvedObject().GetName() == name && e.GetReason() == reason {
			return e, nil
		}
	}
	return nil, err
}

// A CronJob makes one Job per scheduled minute, named after the minute,
// owned by it and labelled from its template; status follows the Jobs;
// deleting the CronJob takes its Jobs with it.
func TestCronJobRunsOnSchedule(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	cj, due := createCronJob(t, ctx, c, newCronJob("tick", "* * * * *", nil))
	uid := cj.GetMetadata().GetUid()
	stillJobs(t, ctx, c, uid) // nothing before its time

	advanceTo(clk, due.Add(time.Second))
	jobs := waitJobs(t, ctx, c, uid, runName("tick", due))
	j := jobs[0]
	if j.GetMetadata().GetLabels()["app"] != "tick" || !j.GetMetadata().GetOwnerReferences()[0].GetController() {
		t.Errorf("job metadata %v: want the template's labels and a controller reference", j.GetMetadata())
	}
	if got := j.GetMetadata().GetAnnotations()["batch.kubernetes.io/cronjob-scheduled-timestamp"]; got != due.UTC().Format(time.RFC3339) {
		t.Errorf("scheduled timestamp %q, want %s", got, due.UTC().Format(time.RFC3339))
	}
	st := waitCronStatus(t, ctx, c, "tick", "the run listed active", func(s *skiffv1.CronJobStatus) bool {
		return len(s.GetActive()) == 1 && s.GetLastScheduleTime() != nil
	}).GetStatus()
	if st.GetActive()[0].GetName() != j.GetMetadata().GetName() || !st.GetLastScheduleTime().AsTime().Equal(due) {
		t.Errorf("status %v: want %s active, last scheduled %v", st, j.GetMetadata().GetName(), due)
	}

	finishRun(t, ctx, c, clk, j, 0)
	waitCronStatus(t, ctx, c, "tick", "the finished run to leave active and set lastSuccessfulTime", func(s *skiffv1.CronJobStatus) bool {
		return len(s.GetActive()) == 0 && s.GetLastSuccessfulTime() != nil
	})

	// The next minute, the next run.
	due2 := due.Add(time.Minute)
	advanceTo(clk, due2.Add(time.Second))
	waitJobs(t, ctx, c, uid, runName("tick", due), runName("tick", due2))

	if _, _, err := c.CronJobs().Delete(ctx, "default", "tick", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJobs(t, ctx, c, uid)
}

func countEvents(ctx context.Context, c *client.Client, name, reason string) (int, error) {
	evs, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
	n := 0
	for _, e := range evs {
		if e.GetInvolvedObject().GetKind() == "CronJob" && e.GetInvolvedObject().GetName() == name && e.GetReason() == reason {
			n++
		}
	}
	return n, err
}
