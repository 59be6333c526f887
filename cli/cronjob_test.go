package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const helloCronJob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "*/5 * * * *"
  timeZone: Europe/Berlin
  jobTemplate:
    metadata:
      labels: {app: hello}
      annotations: {team: ops}
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: hello
            image: busybox:1.36
            command: [sh, -c, date]
`

const nightlyCronJob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "@daily"
  suspend: true
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 300
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: report, image: busybox:1.36}]
`

// cronJobFixture applies two CronJobs and gives hello the status its
// controller would write (no controller runs here).
func cronJobFixture(t *testing.T, r *runner) {
	t.Helper()
	if res := r.runIn(strings.NewReader(helloCronJob+"---\n"+nightlyCronJob), "apply", "-f", "-"); res.e != nil {
		t.Fatalf("apply: %v %s", res.e, res.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := r.srv.Client
	if _, err := c.CronJobs().ModifyStatus(ctx, "default", "hello", func(cj *skiffv1.CronJob) error {
		cj.Status = &skiffv1.CronJobStatus{
			Active:             []*skiffv1.ObjectReference{{Kind: "Job", Namespace: "default", Name: "hello-29627165", Uid: "u9"}},
			LastScheduleTime:   timestamppb.New(r.now.Add(-3 * time.Minute)),
			LastSuccessfulTime: timestamppb.New(r.now.Add(-8 * time.Minute)),
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestGetAndDescribeCronJobs(t *testing.T) {
	r := newRunner(t)
	cronJobFixture(t, r)
	want := `NAME      SCHEDULE      TIMEZONE        SUSPEND   ACTIVE   LAST SCHEDULE   AGE
hello     */5 * * * *   Europe/Berlin   False     1        3m              0s
nightly   @daily        <none>          True      0        <none>          0s
`
	if got := r.ok("get", "cronjobs"); got != want {
		t.Errorf("get cronjobs:\n%s\nwant:\n%s", got, want)
	}
	if got := r.ok("get", "cj", "hello"); !strings.HasPrefix(got, "NAME    SCHEDULE") || !strings.Contains(got, "hello   */5 * * * *") {
		t.Errorf("get cj hello:\n%s", got)
	}
	wide := r.ok("get", "cronjob", "hello", "-o", "wide")
	if !strings.Contains(wide, "CONTAINERS   IMAGES         SELECTOR") || !strings.Contains(wide, "hello        busybox:1.36   <none>") {
		t.Errorf("get cronjob -o wide:\n%s", wide)
	}
	d := r.ok("describe", "cronjob", "hello")
	for _, s := range []string{"Schedule:", "*/5 * * * *", "Time Zone:", "Europe/Berlin", "Concurrency Policy:", "Allow",
		"Suspend:", "False", "Successful Job History Limit:  3", "Failed Job History Limit:      1",
		"Starting Deadline Seconds:     <unset>", "Backoff Limit:", "Restart Policy:", "OnFailure",
		"Last Schedule Time:", "(3m ago)", "Last Successful Time:", "(8m ago)", "Active Jobs:", "hello-29627165"} {
		if !strings.Contains(d, s) {
			t.Errorf("describe cronjob lacks %q:\n%s", s, d)
		}
	}
	d = r.ok("describe", "cj", "nightly")
	for _, s := range []string{"Suspend:", "True", "Forbid", "Starting Deadline Seconds:     300s", "Last Schedule Time:", "<unset>", "Active Jobs:", "<none>"} {
		if !strings.Contains(d, s) {
			t.Errorf("describe cronjob nightly lacks %q:\n%s", s, d)
		}
	}
	y := r.ok("get", "cronjob", "hello", "-o", "yaml")
	for _, s := range []string{"apiVersion: batch/v1\nkind: CronJob", "timeZone: Europe/Berlin", "successfulJobsHistoryLimit: 3",
		"failedJobsHistoryLimit: 1", "suspend: false", "concurrencyPolicy: Allow", "jobTemplate:", "lastScheduleTime:",
		"- apiVersion: batch/v1\n    kind: Job\n    name: hello-29627165"} {
		if !strings.Contains(y, s) {
			t.Errorf("get cronjob -o yaml lacks %q:\n%s", s, y)
		}
	}
	if j := r.ok("get", "cronjob", "hello", "-o", "json"); !strings.Contains(j, `"schedule": "*/5 * * * *"`) {
		t.Errorf("get cronjob -o json:\n%s", j)
	}
}

// skiff create job --from=cronjob/NAME makes the template's Job now,
// owned by the CronJob and marked manual, as kubectl does.
func TestCreateJobFromCronJob(t *testing.T) {
	r := newRunner(t)
	cronJobFixture(t, r)
	if got := r.ok("create", "job", "hello-now", "--from=cronjob/hello"); got != "job/hello-now created\n" {
		t.Errorf("create job: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	j, err := r.srv.Client.Jobs().Get(ctx, "default", "hello-now")
	if err != nil {
		t.Fatal(err)
	}
	cj, err := r.srv.Client.CronJobs().Get(ctx, "default", "hello")
	if err != nil {
		t.Fatal(err)
	}
	m := j.GetMetadata()
	if m.GetAnnotations()["cronjob.kubernetes.io/instantiate"] != "manual" || m.GetAnnotations()["team"] != "ops" || m.GetLabels()["app"] != "hello" {
		t.Errorf("metadata %v: want the template's labels and annotations and instantiate: manual", m)
	}
	if ref := m.GetOwnerReferences(); len(ref) != 1 || ref[0].GetKind() != "CronJob" || ref[0].GetUid() != cj.GetMetadata().GetUid() || !ref[0].GetController() {
		t.Errorf("owner references %v", ref)
	}
	if j.GetSpec().GetBackoffLimit() != 2 || j.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage() != "busybox:1.36" {
		t.Errorf("spec %v: want the template's", j.GetSpec())
	}
	if y := r.ok("get", "job", "hello-now", "-o", "yaml"); !strings.Contains(y, "apiVersion: batch/v1\nkind: Job") {
		t.Errorf("the Job of a batch/v1 CronJob prints as batch/v1:\n%s", y)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "job", "x"}, "(--image=IMAGE) or a CronJob to run now (--from=cronjob/NAME)"},
		{[]string{"create", "job", "x", "--from=deployment/web"}, "--from=deployment/web: give cronjob/NAME"},
		{[]string{"create", "job", "x", "--from=cronjob/absent"}, "not found"},
		{[]string{"create", "job", "hello-now", "--from=cronjob/hello"}, "already exists"},
	} {
		res := r.run(tc.args...)
		if res.e == nil || !strings.Contains(res.err, tc.want) {
			t.Errorf("skiff %s: %v %q, want an error with %q", strings.Join(tc.args, " "), res.e, res.err, tc.want)
		}
	}
}
