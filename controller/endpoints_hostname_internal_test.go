package controller

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A pod whose subdomain is the service's name is its endpoint under its
// hostname (a StatefulSet's pod-0.service); another pod is not.
func TestEndpointHostnameFromSubdomain(t *testing.T) {
	svc := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: &skiffv1.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []*skiffv1.ServicePort{{Port: 80, TargetPort: "80"}}}}
	pod := func(name, ip, hostname, subdomain string) *skiffv1.Pod {
		return &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "nginx"}},
			Spec:     &skiffv1.PodSpec{Hostname: hostname, Subdomain: subdomain},
			Status:   &skiffv1.PodStatus{Phase: "Running", PodIp: ip},
		}
	}
	slices := desiredSlices(svc, []*skiffv1.Pod{
		pod("web-0", "10.0.0.5", "web-0", "nginx"),
		pod("other", "10.0.0.6", "other", "elsewhere"),
	}, func(string) bool { return true })
	got := map[string]string{}
	for _, s := range slices {
		for _, e := range s.GetEndpoints() {
			got[e.GetTargetRef().GetName()] = e.GetHostname()
		}
	}
	if got["web-0"] != "web-0" || got["other"] != "" || len(got) != 2 {
		t.Errorf("hostnames %v, want web-0 for web-0 and none for other", got)
	}
}
