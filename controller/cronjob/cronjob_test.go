package cronjob

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/cron"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestMostRecentTime(t *testing.T) {
	created := time.Date(2026, 5, 1, 10, 0, 30, 0, time.UTC)
	at := func(h, m int) time.Time { return time.Date(2026, 5, 1, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name        string
		schedule    string
		last        time.Time
		deadline    *int64
		now         time.Time
		want        time.Time
		wantMissed  int
		wantTooMany bool
	}{
		{name: "nothing due yet", schedule: "*/5 * * * *", now: at(10, 4)},
		{name: "one due", schedule: "*/5 * * * *", now: at(10, 5).Add(2 * time.Second), want: at(10, 5), wantMissed: 1},
		{name: "several missed: only the last runs", schedule: "*/5 * * * *", now: at(10, 31), want: at(10, 30), wantMissed: 6},
		{name: "after the last run", schedule: "*/5 * * * *", last: at(10, 25), now: at(10, 31), want: at(10, 30), wantMissed: 1},
		{name: "last run is the latest", schedule: "*/5 * * * *", last: at(10, 30), now: at(10, 34)},
		{name: "a day down, every minute", schedule: "* * * * *", now: at(10, 0).Add(24 * time.Hour), want: at(10, 0).Add(24 * time.Hour), wantTooMany: true},
		{name: "a day down, within a deadline of 200s", schedule: "* * * * *", deadline: proto.Int64(200), now: at(10, 0).Add(24 * time.Hour).Add(10 * time.Second),
			want: at(10, 0).Add(24 * time.Hour), wantMissed: 4},
		{name: "deadline passed", schedule: "0 * * * *", deadline: proto.Int64(60), now: at(11, 2)},
		{name: "sparse schedule far back", schedule: "0 3 1 1 *", now: time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC),
			want: time.Date(2029, 1, 1, 3, 0, 0, 0, time.UTC), wantMissed: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sched, err := cron.Parse(tc.schedule)
			if err != nil {
				t.Fatal(err)
			}
			cj := &skiffv1.CronJob{
				Metadata: &skiffv1.ObjectMeta{Name: "c", CreationTimestamp: timestamppb.New(created)},
				Spec:     &skiffv1.CronJobSpec{Schedule: tc.schedule, StartingDeadlineSeconds: tc.deadline},
			}
			if !tc.last.IsZero() {
				cj.Status = &skiffv1.CronJobStatus{LastScheduleTime: timestamppb.New(tc.last)}
			}
			got, missed := MostRecentTime(cj, sched, time.UTC, tc.now)
			if !got.Equal(tc.want) {
				t.Errorf("due %v, want %v", got, tc.want)
			}
			if tc.wantTooMany {
				if missed <= TooManyMissed {
					t.Errorf("missed %d, want more than %d", missed, TooManyMissed)
				}
			} else if missed != tc.wantMissed {
				t.Errorf("missed %d, want %d", missed, tc.wantMissed)
			}
		})
	}
}

func TestJobFromTemplate(t *testing.T) {
	cj := &skiffv1.CronJob{
		Metadata: &skiffv1.ObjectMeta{Name: "hello", Namespace: "team", Uid: "u-1",
			AppliedAs: &skiffv1.TypeMeta{ApiVersion: "batch/v1", Kind: "CronJob"}},
		Spec: &skiffv1.CronJobSpec{JobTemplate: &skiffv1.JobTemplateSpec{
			Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "hello"}, Annotations: map[string]string{"note": "x"}},
			Spec:     &skiffv1.JobSpec{BackoffLimit: proto.Int32(2)},
		}},
	}
	due := time.Date(2026, 5, 1, 10, 5, 0, 0, time.UTC)
	j := Job(cj, JobName(cj, due))
	m := j.GetMetadata()
	if m.GetName() != "hello-29627165" || m.GetNamespace() != "team" {
		t.Errorf("name %s/%s, want team/hello-29627165 (minutes since the epoch)", m.GetNamespace(), m.GetName())
	}
	if m.GetLabels()["app"] != "hello" || m.GetAnnotations()["note"] != "x" {
		t.Errorf("labels %v annotations %v: want the template's", m.GetLabels(), m.GetAnnotations())
	}
	ref := m.GetOwnerReferences()
	if len(ref) != 1 || ref[0].GetKind() != "CronJob" || ref[0].GetUid() != "u-1" || !ref[0].GetController() {
		t.Errorf("owner references %v", ref)
	}
	if j.GetSpec().GetBackoffLimit() != 2 || m.GetAppliedAs().GetKind() != "Job" {
		t.Errorf("spec %v appliedAs %v", j.GetSpec(), m.GetAppliedAs())
	}
	// The Job's maps are its own.
	m.Labels["app"] = "changed"
	if cj.Spec.JobTemplate.Metadata.Labels["app"] != "hello" {
		t.Error("the Job shares the template's labels")
	}
}
