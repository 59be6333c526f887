package manifest

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A batch/v1 CronJob: its template's claim becomes a skiff volume, and
// printed back it is a claim again, with status.active's Jobs naming
// their apiVersion as Kubernetes' ObjectReferences do.
func TestCronJobRoundTrip(t *testing.T) {
	doc := `apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Berlin
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 120
  successfulJobsHistoryLimit: 5
  jobTemplate:
    metadata: {labels: {app: backup}}
    spec:
      backoffLimit: 1
      template:
        spec:
          restartPolicy: OnFailure
          volumes: [{name: data, persistentVolumeClaim: {claimName: db}}]
          containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
`
	objs, err := Decode("cj.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cj, ok := objs[0].Obj.(*skiffv1.CronJob)
	if !ok {
		t.Fatalf("decoded a %T", objs[0].Obj)
	}
	s := cj.GetSpec()
	if s.GetSchedule() != "0 3 * * *" || s.GetTimeZone() != "Europe/Berlin" || s.GetConcurrencyPolicy() != "Forbid" ||
		s.GetStartingDeadlineSeconds() != 120 || s.GetSuccessfulJobsHistoryLimit() != 5 || s.FailedJobsHistoryLimit != nil ||
		s.GetJobTemplate().GetMetadata().GetLabels()["app"] != "backup" || s.GetJobTemplate().GetSpec().GetBackoffLimit() != 1 {
		t.Errorf("spec %v", s)
	}
	if v := s.GetJobTemplate().GetSpec().GetTemplate().GetSpec().GetVolumes()[0].GetVolume().GetName(); v != "db" {
		t.Errorf("the claim became volume %q, want db", v)
	}
	cj.Status = &skiffv1.CronJobStatus{
		Active:           []*skiffv1.ObjectReference{{Kind: "Job", Namespace: "default", Name: "backup-29627165", Uid: "u2"}},
		LastScheduleTime: timestamppb.Now(),
	}
	out, err := Encode(cj)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"claimName":"db"`, `"active":[{"apiVersion":"batch/v1","kind":"Job","name":"backup-29627165","namespace":"default","uid":"u2"}]`,
		`"startingDeadlineSeconds":120`, `"lastScheduleTime":`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("printed without %s: %s", want, out)
		}
	}
	// What was printed decodes again.
	if _, err := Decode("again.json", out); err != nil {
		t.Errorf("printed CronJob does not decode: %v", err)
	}
}
