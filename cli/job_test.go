package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// jobFixture makes Jobs in each state, with the status a controller would
// write (no controller runs here).
func jobFixture(t *testing.T, r *runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := r.srv.Client
	ago := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(r.now.Add(-d)) }
	for _, j := range []struct {
		name        string
		completions *int32
		parallelism int32
		mode        string
		status      *skiffv1.JobStatus
	}{
		{"done", proto.Int32(3), 1, "", &skiffv1.JobStatus{Succeeded: 3, StartTime: ago(5 * time.Minute), CompletionTime: ago(3 * time.Minute),
			Conditions: []*skiffv1.Condition{{Type: "Complete", Status: "True", LastTransitionTime: ago(3 * time.Minute)}}}},
		{"broken", proto.Int32(1), 1, "", &skiffv1.JobStatus{Failed: 7, StartTime: ago(10 * time.Minute),
			Conditions: []*skiffv1.Condition{{Type: "Failed", Status: "True", Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}}},
		{"queue", nil, 3, "", &skiffv1.JobStatus{Active: 3, StartTime: ago(90 * time.Second)}},
		{"shards", proto.Int32(10), 3, "Indexed", &skiffv1.JobStatus{Active: 3, Succeeded: 4, CompletedIndexes: "0-2,5", StartTime: ago(time.Minute)}},
	} {
		spec := &skiffv1.PodSpec{RestartPolicy: "Never", Containers: []*skiffv1.Container{{Name: "work", Image: "busybox:1.36"}}}
		job, err := c.Jobs().Create(ctx, &skiffv1.Job{Metadata: &skiffv1.ObjectMeta{Name: j.name, Namespace: "default"},
			Spec: &skiffv1.JobSpec{Completions: j.completions, Parallelism: proto.Int32(j.parallelism), CompletionMode: j.mode,
				Template: &skiffv1.PodTemplateSpec{Spec: spec}}})
		if err != nil {
			t.Fatal(err)
		}
		job.Status = j.status
		if _, err := c.Jobs().UpdateStatus(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGetAndDescribeJobs(t *testing.T) {
	r := newRunner(t)
	jobFixture(t, r)
	want := `NAME     STATUS     COMPLETIONS   DURATION   AGE
broken   Failed     0/1           10m        0s
done     Complete   3/3           2m         0s
queue    Running    0/1 of 3      90s        0s
shards   Running    4/10          60s        0s
`
	if got := r.ok("get", "jobs"); got != want {
		t.Errorf("get jobs:\n%s\nwant:\n%s", got, want)
	}
	wide := r.ok("get", "job", "done", "-o", "wide")
	if !strings.Contains(wide, "CONTAINERS   IMAGES         SELECTOR") || !strings.Contains(wide, "work         busybox:1.36   batch.kubernetes.io/controller-uid=") {
		t.Errorf("get job -o wide:\n%s", wide)
	}
	d := r.ok("describe", "job", "shards")
	for _, s := range []string{"Parallelism:", "Completions:", "10", "Completion Mode:", "Indexed",
		"Pods Statuses:", "3 Active (0 Ready) / 4 Succeeded / 0 Failed", "Completed Indexes:", "0-2,5", "Restart Policy:", "Never"} {
		if !strings.Contains(d, s) {
			t.Errorf("describe job lacks %q:\n%s", s, d)
		}
	}
	d = r.ok("describe", "job", "broken")
	if !strings.Contains(d, "BackoffLimitExceeded") || !strings.Contains(d, "Job has reached the specified backoff limit") {
		t.Errorf("describe of a failed job lacks the reason:\n%s", d)
	}
}

func TestWait(t *testing.T) {
	r := newRunner(t)
	jobFixture(t, r)
	c := r.srv.Client
	if got := r.ok("wait", "--for=condition=complete", "job/done"); got != "job/done condition met\n" {
		t.Errorf("already complete: %q", got)
	}
	if got := r.ok("wait", "--for=condition=Failed=true", "jobs", "broken"); got != "job/broken condition met\n" {
		t.Errorf("KIND NAME form, status given: %q", got)
	}
	res := r.run("wait", "--for=condition=complete", "job/queue", "--timeout=500ms")
	if res.e == nil || !strings.Contains(res.err, "timed out after 500ms waiting for condition complete=True on job/queue") {
		t.Errorf("timeout: %+v", res)
	}
	// A condition that arrives while waiting.
	done := make(chan result, 1)
	go func() { done <- r.run("wait", "--for=condition=complete", "job/shards", "--timeout=60s") }()
	time.Sleep(200 * time.Millisecond) // let the wait start; it succeeds either way
	ctx := context.Background()
	if _, err := c.Jobs().ModifyStatus(ctx, "default", "shards", func(j *skiffv1.Job) error {
		j.Status.Conditions = append(j.Status.Conditions, &skiffv1.Condition{Type: "Complete", Status: "True"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.e != nil || res.out != "job/shards condition met\n" {
		t.Errorf("waiting for a condition to come: %+v", res)
	}
	go func() { done <- r.run("wait", "--for=delete", "job/queue", "--timeout=60s") }()
	time.Sleep(200 * time.Millisecond)
	if _, _, err := c.Jobs().Delete(ctx, "default", "queue", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.e != nil || res.out != "job/queue deleted\n" {
		t.Errorf("waiting for deletion: %+v", res)
	}
	if got := r.ok("wait", "--for=delete", "job/queue"); got != "job/queue deleted\n" {
		t.Errorf("already gone: %q", got)
	}
	for _, tc := range []struct{ args, want string }{
		{"wait --for=condition=complete job/nope", `job "nope" not found`},
		{"wait --for=ready job/done", `--for "ready": give condition=TYPE`},
		{"wait --for=condition=ready", "say what to wait for"},
		{"wait --for=condition=ready event/x", "a Event has no conditions"},
		{"wait job/done", `required flag(s) "for" not set`},
	} {
		res := r.run(strings.Fields(tc.args)...)
		if res.e == nil || !strings.Contains(res.err, tc.want) {
			t.Errorf("skiff %s: %+v, want an error with %q", tc.args, res, tc.want)
		}
	}
}

func TestLogsPodOfJob(t *testing.T) {
	r := newRunner(t)
	jobFixture(t, r)
	c := r.srv.Client
	ctx := context.Background()
	job, err := c.Jobs().Get(ctx, "default", "shards")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logsPod(ctx, c, "default", "job/shards"); err == nil || !strings.Contains(err.Error(), `job "shards" has no pods`) {
		t.Errorf("no pods: %v", err)
	}
	ref := []*skiffv1.OwnerReference{{Kind: "Job", Name: "shards", Uid: job.GetMetadata().GetUid(), Controller: true}}
	for _, p := range []struct{ name, phase string }{{"shards-0-aaaaa", "Succeeded"}, {"shards-1-bbbbb", "Running"}, {"shards-2-ccccc", "Failed"}} {
		pod, err := c.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: p.name, Namespace: "default", OwnerReferences: ref},
			Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "work", Image: "busybox:1.36"}}}})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status = &skiffv1.PodStatus{Phase: p.phase}
		if _, err := c.Pods().UpdateStatus(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := logsPod(ctx, c, "default", "job/shards"); err != nil || got != "shards-1-bbbbb" {
		t.Errorf("job/shards: %q %v, want the running pod", got, err)
	}
	if got, _ := logsPod(ctx, c, "default", "pod/web"); got != "web" {
		t.Errorf("pod/web: %q", got)
	}
	if _, err := logsPod(ctx, c, "default", "svc/web"); err == nil {
		t.Error("logs of a service: no error")
	}
}
