package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// startJobs runs a controller manager whose Job controller reads a fake
// clock, returned for the test to move.
func startJobs(t *testing.T) (*apitest.Server, *controller.FakeClock) {
	srv := apitest.Start(t)
	clk := controller.NewFakeClock(time.Now())
	startManager(t, srv, controller.WithClock(clk))
	return srv, clk
}

func newJob(name string, mutate func(*skiffv1.JobSpec)) *skiffv1.Job {
	spec := podSpec("10m")
	spec.RestartPolicy = "Never"
	j := &skiffv1.Job{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &skiffv1.JobSpec{Template: &skiffv1.PodTemplateSpec{Spec: spec}},
	}
	if mutate != nil {
		mutate(j.Spec)
	}
	return j
}

// allPodsOf lists every pod the Job with uid controls, deleting or not.
func allPodsOf(ctx context.Context, c *client.Client, uid string) ([]*skiffv1.Pod, error) {
	all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	var out []*skiffv1.Pod
	for _, p := range all {
		if ref := p.GetMetadata().GetOwnerReferences(); len(ref) > 0 && ref[0].GetUid() == uid {
			out = append(out, p)
		}
	}
	return out, err
}

// finish ends a pod as its node would: phase and the container's exit
// code, finished at the fake clock's time.
func finish(ctx context.Context, c *client.Client, p *skiffv1.Pod, code int32, at time.Time) error {
	_, err := c.Pods().ModifyStatus(ctx, "default", p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
		phase := "Succeeded"
		if code != 0 {
			phase = "Failed"
		}
		cur.Status = &skiffv1.PodStatus{Phase: phase, ContainerStatuses: []*skiffv1.ContainerStatus{{
			Name: "c", State: &skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: code, FinishedAt: timestamppb.New(at)}},
		}}}
		return nil
	})
	return err
}

func running(p *skiffv1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph != "Succeeded" && ph != "Failed" && p.GetMetadata().GetDeletionTimestamp() == nil
}

func jobCondition(j *skiffv1.Job, typ string) *skiffv1.Condition {
	for _, c := range j.GetStatus().GetConditions() {
		if c.GetType() == typ && c.GetStatus() == "True" {
			return c
		}
	}
	return nil
}

func waitJobCondition(t *testing.T, ctx context.Context, c *client.Client, name, typ string) *skiffv1.Job {
	t.Helper()
	var j *skiffv1.Job
	waitFor(t, "Job "+name+" "+typ, func() (bool, error) {
		var err error
		j, err = c.Jobs().Get(ctx, "default", name)
		return err == nil && jobCondition(j, typ) != nil, err
	})
	return j
}

func TestIndexedJobCompletesDespiteAFailure(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	job, err := c.Jobs().Create(ctx, newJob("idx", func(s *skiffv1.JobSpec) {
		s.Completions, s.Parallelism, s.CompletionMode = proto.Int32(5), proto.Int32(2), "Indexed"
	}))
	if err != nil {
		t.Fatal(err)
	}
	uid := job.GetMetadata().GetUid()
	failedOnce := false
	seen := map[string]bool{}
	// Act as the node: each running pod succeeds, except index 2's first.
	waitFor(t, "every index to succeed", func() (bool, error) {
		pods, err := allPodsOf(ctx, c, uid)
		if err != nil {
			return false, err
		}
		nrunning := 0
		for _, p := range pods {
			if !running(p) {
				continue
			}
			nrunning++
			idx := p.GetMetadata().GetAnnotations()["batch.kubernetes.io/job-completion-index"]
			name := p.GetMetadata().GetName()
			if !seen[name] {
				seen[name] = true
				checkIndexedPod(t, p, idx)
			}
			code := int32(0)
			if idx == "2" && !failedOnce {
				code, failedOnce = 1, true
			}
			if err := finish(ctx, c, p, code, clk.Now()); err != nil {
				return false, err
			}
		}
		if nrunning > 2 {
			t.Errorf("%d pods running at once; parallelism is 2", nrunning)
		}
		// The replacement of index 2 waits out the back-off.
		clk.Advance(3 * time.Second)
		j, err := c.Jobs().Get(ctx, "default", "idx")
		return err == nil && jobCondition(j, "Complete") != nil, err
	})
	j := waitJobCondition(t, ctx, c, "idx", "Complete")
	waitFor(t, "the counters", func() (bool, error) {
		j, err = c.Jobs().Get(ctx, "default", "idx")
		st := j.GetStatus()
		return err == nil && st.GetFailed() == 1 && len(st.GetUncountedTerminatedPods().GetFailed()) == 0, err
	})
	st := j.GetStatus()
	if st.GetCompletedIndexes() != "0-4" || st.GetSucceeded() != 5 || st.GetActive() != 0 || st.GetCompletionTime() == nil || st.GetStartTime() == nil {
		t.Errorf("status %v: want completedIndexes 0-4, succeeded 5, active 0, start and completion times", st)
	}
	if len(seen) != 6 {
		t.Errorf("%d pods made, want 6 (5 indexes and one retry)", len(seen))
	}
	events, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, e := range events {
		if e.GetInvolvedObject().GetName() == "idx" && e.GetReason() == "SuccessfulCreate" && strings.HasPrefix(e.GetMessage(), "Created pod: idx-") {
			created++
		}
	}
	if created != 6 {
		t.Errorf("%d SuccessfulCreate events, want 6", created)
	}
	waitFor(t, "every tracking finalizer removed", func() (bool, error) {
		pods, err := allPodsOf(ctx, c, uid)
		for _, p := range pods {
			if len(p.GetMetadata().GetFinalizers()) > 0 {
				return false, fmt.Errorf("pod %s keeps %v", p.GetMetadata().GetName(), p.GetMetadata().GetFinalizers())
			}
		}
		return err == nil, err
	})
}

func checkIndexedPod(t *testing.T, p *skiffv1.Pod, idx string) {
	t.Helper()
	name := p.GetMetadata().GetName()
	if idx == "" || !strings.HasPrefix(name, "idx-"+idx+"-") || len(name) != len("idx-"+idx+"-")+5 {
		t.Errorf("pod %s (index %q): want idx-INDEX-xxxxx", name, idx)
	}
	if h := p.GetSpec().GetHostname(); h != "idx-"+idx {
		t.Errorf("pod %s hostname %q, want idx-%s", name, h, idx)
	}
	if !slices.ContainsFunc(p.GetSpec().GetContainers()[0].GetEnv(), func(e *skiffv1.EnvVar) bool {
		return e.GetName() == "JOB_COMPLETION_INDEX" && e.GetValue() == idx
	}) {
		t.Errorf("pod %s lacks JOB_COMPLETION_INDEX=%s", name, idx)
	}
	if !slices.Contains(p.GetMetadata().GetFinalizers(), "batch.kubernetes.io/job-tracking") {
		t.Errorf("pod %s lacks the tracking finalizer", name)
	}
	if p.GetMetadata().GetLabels()["batch.kubernetes.io/job-name"] != "idx" {
		t.Errorf("pod %s labels %v lack the job-name", name, p.GetMetadata().GetLabels())
	}
}

// runningPod waits for a running pod of the Job with uid and returns it.
func runningPod(t *testing.T, ctx context.Context, c *client.Client, uid string) *skiffv1.Pod {
	t.Helper()
	var got *skiffv1.Pod
	waitFor(t, "a running pod", func() (bool, error) {
		pods, err := allPodsOf(ctx, c, uid)
		for _, p := range pods {
			if running(p) {
				got = p
				return true, nil
			}
		}
		return false, err
	})
	return got
}

func TestJobFailsAfterItsBackoffLimitWaitingOutTheBackoff(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	job, err := c.Jobs().Create(ctx, newJob("flaky", func(s *skiffv1.JobSpec) { s.BackoffLimit = proto.Int32(1) }))
	if err != nil {
		t.Fatal(err)
	}
	uid := job.GetMetadata().GetUid()
	if err := finish(ctx, c, runningPod(t, ctx, c, uid), 1, clk.Now()); err != nil {
		t.Fatal(err)
	}
	// No replacement before the 10s back-off has passed on the clock.
	waitFor(t, "the failure counted", func() (bool, error) {
		j, err := c.Jobs().Get(ctx, "default", "flaky")
		return err == nil && j.GetStatus().GetFailed() == 1, err
	})
	clk.Advance(9 * time.Second)
	time.Sleep(300 * time.Millisecond) // a replacement, were there one, would be made by now
	if pods, _ := allPodsOf(ctx, c, uid); len(pods) != 1 {
		t.Fatalf("%d pods within the back-off, want 1", len(pods))
	}
	clk.Advance(2 * time.Second)
	if err := finish(ctx, c, runningPod(t, ctx, c, uid), 2, clk.Now()); err != nil {
		t.Fatal(err)
	}
	j := waitJobCondition(t, ctx, c, "flaky", "Failed")
	if cond := jobCondition(j, "Failed"); cond.GetReason() != "BackoffLimitExceeded" {
		t.Errorf("Failed reason %q, want BackoffLimitExceeded", cond.GetReason())
	}
	waitFor(t, "2 failures counted", func() (bool, error) {
		j, err := c.Jobs().Get(ctx, "default", "flaky")
		return err == nil && j.GetStatus().GetFailed() == 2, err
	})
	clk.Advance(time.Hour)
	time.Sleep(300 * time.Millisecond)
	if pods, _ := allPodsOf(ctx, c, uid); len(pods) != 2 {
		t.Errorf("%d pods after the Job failed, want 2", len(pods))
	}
}

func TestJobPodFailurePolicy(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	job, err := c.Jobs().Create(ctx, newJob("policy", func(s *skiffv1.JobSpec) {
		s.PodFailurePolicy = &skiffv1.PodFailurePolicy{Rules: []*skiffv1.PodFailurePolicyRule{
			{Action: "Ignore", OnExitCodes: &skiffv1.PodFailurePolicyOnExitCodesRequirement{Values: []int32{7}}},
			{Action: "FailJob", OnExitCodes: &skiffv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: "c", Values: []int32{42}}},
		}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	uid := job.GetMetadata().GetUid()
	// A counted failure first, and its back-off waited out.
	counted := runningPod(t, ctx, c, uid)
	if err := finish(ctx, c, counted, 1, clk.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the counted failure", func() (bool, error) {
		j, err := c.Jobs().Get(ctx, "default", "policy")
		return err == nil && j.GetStatus().GetFailed() == 1, err
	})
	clk.Advance(11 * time.Second)
	first := runningPod(t, ctx, c, uid)
	if err := finish(ctx, c, first, 7, clk.Now()); err != nil {
		t.Fatal(err)
	}
	// Ignored: replaced at once (no new back-off) and not counted.
	var second *skiffv1.Pod
	waitFor(t, "a replacement of the ignored pod, with the clock still", func() (bool, error) {
		p := runningPod(t, ctx, c, uid)
		second = p
		return p.GetMetadata().GetUid() != first.GetMetadata().GetUid(), nil
	})
	if err := finish(ctx, c, second, 42, clk.Now()); err != nil {
		t.Fatal(err)
	}
	j := waitJobCondition(t, ctx, c, "policy", "Failed")
	cond := jobCondition(j, "Failed")
	want := "Container c for pod default/" + second.GetMetadata().GetName() + " failed with exit code 42 matching FailJob rule at index 1"
	if cond.GetReason() != "PodFailurePolicy" || cond.GetMessage() != want {
		t.Errorf("Failed %q %q, want PodFailurePolicy %q", cond.GetReason(), cond.GetMessage(), want)
	}
	waitFor(t, "the first and the FailJob pod counted, not the ignored one", func() (bool, error) {
		j, err := c.Jobs().Get(ctx, "default", "policy")
		return err == nil && j.GetStatus().GetFailed() == 2 && len(j.GetStatus().GetUncountedTerminatedPods().GetFailed()) == 0, err
	})
}

func TestJobCountsAPodDeletedAsSoonAsItSucceeded(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	job, err := c.Jobs().Create(ctx, newJob("quick", func(s *skiffv1.JobSpec) { s.Completions = proto.Int32(2) }))
	if err != nil {
		t.Fatal(err)
	}
	uid := job.GetMetadata().GetUid()
	for i := 0; i < 2; i++ {
		p := runningPod(t, ctx, c, uid)
		if err := finish(ctx, c, p, 0, clk.Now()); err != nil {
			t.Fatal(err)
		}
		// Deleted before the controller may have seen it finish: the
		// finalizer keeps it until it is counted.
		if _, _, err := c.Pods().Delete(ctx, "default", p.GetMetadata().GetName(), client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	j := waitJobCondition(t, ctx, c, "quick", "Complete")
	waitFor(t, "both pods counted and gone", func() (bool, error) {
		j, err = c.Jobs().Get(ctx, "default", "quick")
		if err != nil || j.GetStatus().GetSucceeded() != 2 || j.GetStatus().GetFailed() != 0 {
			return false, err
		}
		pods, err := allPodsOf(ctx, c, uid)
		return len(pods) == 0, err
	})
}

func TestJobActiveDeadlineAndTTL(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	job, err := c.Jobs().Create(ctx, newJob("slow", func(s *skiffv1.JobSpec) {
		s.ActiveDeadlineSeconds, s.Parallelism, s.Completions = proto.Int64(30), proto.Int32(2), proto.Int32(4)
	}))
	if err != nil {
		t.Fatal(err)
	}
	runningPod(t, ctx, c, job.GetMetadata().GetUid())
	clk.Advance(31 * time.Second)
	j := waitJobCondition(t, ctx, c, "slow", "Failed")
	if r := jobCondition(j, "Failed").GetReason(); r != "DeadlineExceeded" {
		t.Errorf("reason %q, want DeadlineExceeded", r)
	}
	waitFor(t, "the running pods deleted and counted failed", func() (bool, error) {
		pods, err := podsOf(ctx, c, job.GetMetadata().GetUid())
		j, _ := c.Jobs().Get(ctx, "default", "slow")
		return err == nil && len(pods) == 0 && j.GetStatus().GetFailed() == 2 && j.GetStatus().GetActive() == 0, err
	})

	short, err := c.Jobs().Create(ctx, newJob("short", func(s *skiffv1.JobSpec) { s.TtlSecondsAfterFinished = proto.Int32(60) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := finish(ctx, c, runningPod(t, ctx, c, short.GetMetadata().GetUid()), 0, clk.Now()); err != nil {
		t.Fatal(err)
	}
	waitJobCondition(t, ctx, c, "short", "Complete")
	clk.Advance(59 * time.Second)
	time.Sleep(300 * time.Millisecond)
	if _, err := c.Jobs().Get(ctx, "default", "short"); err != nil {
		t.Fatalf("deleted before its TTL: %v", err)
	}
	clk.Advance(2 * time.Second)
	waitFor(t, "the finished Job deleted after its TTL", func() (bool, error) {
		_, err := c.Jobs().Get(ctx, "default", "short")
		return client.IsNotFound(err), nil
	})
}

func TestJobWorkQueueAndOnFailureRestarts(t *testing.T) {
	srv, clk := startJobs(t)
	c := srv.Client
	ctx := ctxT(t)
	// A work queue: parallelism 3, no completions. One success and the
	// others' end complete it; no pod starts after the success.
	q, err := c.Jobs().Create(ctx, newJob("queue", func(s *skiffv1.JobSpec) { s.Parallelism = proto.Int32(3) }))
	if err != nil {
		t.Fatal(err)
	}
	var pods []*skiffv1.Pod
	waitFor(t, "3 running pods", func() (bool, error) {
		pods, err = podsOf(ctx, c, q.GetMetadata().GetUid())
		return len(pods) == 3, err
	})
	for i, p := range pods {
		if err := finish(ctx, c, p, 0, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitFor(t, "the first success counted", func() (bool, error) {
				j, err := c.Jobs().Get(ctx, "default", "queue")
				return err == nil && j.GetStatus().GetSucceeded() == 1, err
			})
			if all, _ := allPodsOf(ctx, c, q.GetMetadata().GetUid()); len(all) != 3 {
				t.Fatalf("%d pods after the first success, want still 3", len(all))
			}
		}
	}
	waitJobCondition(t, ctx, c, "queue", "Complete")

	// restartPolicy OnFailure: the containers' restarts count against
	// backoffLimit.
	r, err := c.Jobs().Create(ctx, newJob("restarts", func(s *skiffv1.JobSpec) {
		s.Template.Spec.RestartPolicy, s.BackoffLimit = "OnFailure", proto.Int32(2)
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := runningPod(t, ctx, c, r.GetMetadata().GetUid())
	if _, err := c.Pods().ModifyStatus(ctx, "default", p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
		cur.Status = &skiffv1.PodStatus{Phase: "Running", ContainerStatuses: []*skiffv1.ContainerStatus{{Name: "c", RestartCount: 3}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	j := waitJobCondition(t, ctx, c, "restarts", "Failed")
	if reason := jobCondition(j, "Failed").GetReason(); reason != "BackoffLimitExceeded" {
		t.Errorf("reason %q, want BackoffLimitExceeded", reason)
	}

	// Deleting a Job releases its pods' finalizers, so they can go.
	if _, _, err := c.Jobs().Delete(ctx, "default", "queue", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted Job's pods collected", func() (bool, error) {
		all, err := allPodsOf(ctx, c, q.GetMetadata().GetUid())
		return err == nil && len(all) == 0, err
	})
}
