package dnsserver

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPodReadiness(t *testing.T) {
	pod := func(mut func(p *skiffv1.Pod)) *skiffv1.Pod {
		p := &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "web"}},
			Status: &skiffv1.PodStatus{Phase: "Running", PodIp: "10.0.0.1",
				Conditions: []*skiffv1.Condition{{Type: "Scheduled", Status: "True"}, {Type: "Ready", Status: "True"}}},
		}
		if mut != nil {
			mut(p)
		}
		return p
	}
	svc := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "ns"},
		Spec: &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}}}
	for _, c := range []struct {
		name     string
		p        *skiffv1.Pod
		live, in bool
	}{
		{"ready", pod(nil), true, true},
		{"not ready", pod(func(p *skiffv1.Pod) { p.Status.Conditions[1].Status = "False" }), true, false},
		{"no ready condition", pod(func(p *skiffv1.Pod) { p.Status.Conditions = nil }), true, false},
		{"no IP", pod(func(p *skiffv1.Pod) { p.Status.PodIp = "" }), false, false},
		{"bad IP", pod(func(p *skiffv1.Pod) { p.Status.PodIp = "10.0.0" }), false, false},
		{"deleting", pod(func(p *skiffv1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.Now() }), false, false},
		{"succeeded", pod(func(p *skiffv1.Pod) { p.Status.Phase = "Succeeded" }), false, false},
		{"failed", pod(func(p *skiffv1.Pod) { p.Status.Phase = "Failed" }), false, false},
		{"other labels", pod(func(p *skiffv1.Pod) { p.Metadata.Labels = map[string]string{"app": "db"} }), true, false},
		{"other namespace", pod(func(p *skiffv1.Pod) { p.Metadata.Namespace = "x" }), true, false},
	} {
		if _, live := podIP(c.p); live != c.live {
			t.Errorf("%s: live %v, want %v", c.name, live, c.live)
		}
		got := serviceView(svc, []*skiffv1.Pod{c.p})
		if in := len(got.Endpoints) == 1; in != c.in {
			t.Errorf("%s: in service %v, want %v", c.name, in, c.in)
		}
	}
	noSel := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "ns"}, Spec: &skiffv1.ServiceSpec{}}
	if got := serviceView(noSel, []*skiffv1.Pod{pod(nil)}); len(got.Endpoints) != 0 {
		t.Errorf("a service without selector has endpoints %v", got.Endpoints)
	}
}
