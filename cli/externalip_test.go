package cli

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// EXTERNAL-IP and PORT(S) of get svc, as kubectl prints them.
func TestServiceExternalIPColumn(t *testing.T) {
	lb := func(ips ...string) *skiffv1.Service {
		s := &skiffv1.Service{Spec: &skiffv1.ServiceSpec{Type: "LoadBalancer", Ports: []*skiffv1.ServicePort{{Port: 80, NodePort: 31234}}}}
		if len(ips) > 0 {
			s.Status = &skiffv1.ServiceStatus{LoadBalancer: &skiffv1.LoadBalancerStatus{}}
			for _, ip := range ips {
				s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, &skiffv1.LoadBalancerIngress{Ip: ip})
			}
		}
		return s
	}
	for _, c := range []struct {
		svc        *skiffv1.Service
		ext, ports string
	}{
		{lb("192.0.2.1", "192.0.2.2"), "192.0.2.1,192.0.2.2", "80:31234/TCP"},
		{lb(), "<pending>", "80:31234/TCP"},
		{&skiffv1.Service{Spec: &skiffv1.ServiceSpec{Type: "ClusterIP", Ports: []*skiffv1.ServicePort{{Port: 53, Protocol: "UDP"}}}}, "<none>", "53/UDP"},
		{&skiffv1.Service{Spec: &skiffv1.ServiceSpec{Type: "ClusterIP", ExternalIps: []string{"203.0.113.5"}, Ports: []*skiffv1.ServicePort{{Port: 80}}}}, "203.0.113.5", "80/TCP"},
	} {
		if got := externalIPs(c.svc); got != c.ext {
			t.Errorf("EXTERNAL-IP of %v: %q, want %q", c.svc, got, c.ext)
		}
		if got := servicePorts(c.svc); got != c.ports {
			t.Errorf("PORT(S) of %v: %q, want %q", c.svc, got, c.ports)
		}
	}
}
