package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// workloadFixture makes a DaemonSet and a StatefulSet with the status
// their controllers would write (no controller runs here).
func workloadFixture(t *testing.T, r *runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := r.srv.Client
	tmpl := func(app string) *skiffv1.PodTemplateSpec {
		return &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: app, Image: "busybox:1.36"}}}}
	}
	ds := tmpl("agent")
	ds.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	d, err := c.DaemonSets().Create(ctx, &skiffv1.DaemonSet{Metadata: &skiffv1.ObjectMeta{Name: "agent", Namespace: "default"},
		Spec: &skiffv1.DaemonSetSpec{Template: ds}})
	if err != nil {
		t.Fatal(err)
	}
	d.Status = &skiffv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2, ObservedGeneration: 1}
	if _, err := c.DaemonSets().UpdateStatus(ctx, d); err != nil {
		t.Fatal(err)
	}
	s, err := c.StatefulSets().Create(ctx, &skiffv1.StatefulSet{Metadata: &skiffv1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: &skiffv1.StatefulSetSpec{Replicas: proto.Int32(3), ServiceName: "db", Template: tmpl("db"),
			VolumeClaimTemplates: []*skiffv1.Volume{{Metadata: &skiffv1.ObjectMeta{Name: "data"}, Spec: &skiffv1.VolumeSpec{Capacity: "1Gi"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Status = &skiffv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 2, CurrentReplicas: 3, UpdatedReplicas: 3, CurrentRevision: "abc", UpdateRevision: "abc", ObservedGeneration: 1}
	if _, err := c.StatefulSets().UpdateStatus(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func TestGetAndDescribeWorkloads(t *testing.T) {
	r := newRunner(t)
	workloadFixture(t, r)
	want := `NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE
agent   3         3         2       1            2           disk=ssd        0s
`
	if got := r.ok("get", "ds"); got != want {
		t.Errorf("get ds:\n%s\nwant:\n%s", got, want)
	}
	want = `NAME   READY   AGE
db     2/3     0s
`
	if got := r.ok("get", "statefulsets"); got != want {
		t.Errorf("get statefulsets:\n%s\nwant:\n%s", got, want)
	}
	if got := r.ok("get", "sts", "db", "-o", "wide"); !strings.Contains(got, "CONTAINERS   IMAGES") || !strings.Contains(got, "db           busybox:1.36") {
		t.Errorf("get sts -o wide:\n%s", got)
	}
	d := r.ok("describe", "ds", "agent")
	for _, s := range []string{"Node-Selector:", "disk=ssd", "Desired Number of Nodes Scheduled:", "Number of Nodes Misscheduled:", "Update Strategy:", "RollingUpdate", "Max Unavailable:"} {
		if !strings.Contains(d, s) {
			t.Errorf("describe ds lacks %q:\n%s", s, d)
		}
	}
	d = r.ok("describe", "sts", "db")
	for _, s := range []string{"Replicas:", "3 desired | 3 total", "Service Name:", "Pod Management Policy:", "OrderedReady", "Partition:", "Volume Claims:", "data", "1Gi", "WhenDeleted: Retain, WhenScaled: Retain"} {
		if !strings.Contains(d, s) {
			t.Errorf("describe sts lacks %q:\n%s", s, d)
		}
	}
	// -o yaml of a skiff/v1 object and kubectl's rollout status messages.
	if y := r.ok("get", "sts", "db", "-o", "yaml"); !strings.Contains(y, "volumeClaimTemplates:") || !strings.Contains(y, "serviceName: db") {
		t.Errorf("get sts -o yaml:\n%s", y)
	}
	if got := r.ok("rollout", "status", "sts/db", "--watch=false"); got != "Waiting for 1 pods to be ready...\n" {
		t.Errorf("rollout status sts/db: %q", got)
	}
	if got := r.ok("rollout", "status", "ds/agent", "--watch=false"); got != "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated...\n" {
		t.Errorf("rollout status ds/agent: %q", got)
	}
	if res := r.run("rollout", "status", "rs/x"); res.e == nil || !strings.Contains(res.err, "only deployments (deploy), daemon sets (ds) and stateful sets (sts)") {
		t.Errorf("rollout status rs/x: %v %s", res.e, res.err)
	}
	r.ok("scale", "sts", "db", "--replicas", "5")
	s, err := r.srv.Client.StatefulSets().Get(context.Background(), "default", "db")
	if err != nil || s.GetSpec().GetReplicas() != 5 {
		t.Errorf("scale sts: replicas %d (%v)", s.GetSpec().GetReplicas(), err)
	}
}
