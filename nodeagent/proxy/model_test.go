package proxy

import (
	"net/netip"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Desired keeps only services with a ClusterIP, only ready endpoints, at
// the port each slice resolves the service port to; node ports only for
// NodePort services.
func TestDesired(t *testing.T) {
	svc := func(name, ip, typ string) *skiffv1.Service {
		return &skiffv1.Service{
			Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: name},
			Spec: &skiffv1.ServiceSpec{ClusterIp: ip, Type: typ, Ports: []*skiffv1.ServicePort{
				{Name: "http", Port: 80, Protocol: "TCP", TargetPort: "web", NodePort: 30080},
				{Name: "dns", Port: 53, Protocol: "UDP"},
			}},
		}
	}
	ep := &skiffv1.Endpoints{Slices: []*skiffv1.EndpointSlice{
		{Ports: []*skiffv1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}}, Endpoints: []*skiffv1.ServiceEndpoint{
			{Addresses: []string{"10.88.0.5"}, Conditions: &skiffv1.EndpointConditions{Ready: true, Serving: true}},
			{Addresses: []string{"10.88.0.6"}, Conditions: &skiffv1.EndpointConditions{Serving: true, Terminating: true}},
			{Addresses: []string{"10.88.0.7"}, Conditions: &skiffv1.EndpointConditions{}},
		}},
		{Ports: []*skiffv1.EndpointPort{{Name: "http", Port: 9090, Protocol: "TCP"}, {Name: "dns", Port: 5353, Protocol: "UDP"}}, Endpoints: []*skiffv1.ServiceEndpoint{
			{Addresses: []string{"10.88.1.5"}, Conditions: &skiffv1.EndpointConditions{Ready: true, Serving: true}},
		}},
	}}
	got := Desired([]*skiffv1.Service{svc("web", "10.96.0.10", "NodePort"), svc("headless", "None", "ClusterIP"), svc("plain", "10.96.0.11", "ClusterIP")},
		func(key string) (*skiffv1.Endpoints, bool) { return ep, key == "default/web" })
	if len(got) != 4 {
		t.Fatalf("got %d ports, want 4 (2 per service with a ClusterIP): %+v", len(got), got)
	}
	// Sorted by name: plain:dns, plain:http, web:dns, web:http.
	web := got[3]
	if web.Name != "default/web:http" || web.NodePort != 30080 || web.Protocol != protoTCP || web.Port != 80 {
		t.Fatalf("web:http = %+v", web)
	}
	want := []Endpoint{{netip.MustParseAddr("10.88.0.5"), 8080}, {netip.MustParseAddr("10.88.1.5"), 9090}}
	if len(web.Endpoints) != 2 || web.Endpoints[0] != want[0] || web.Endpoints[1] != want[1] {
		t.Fatalf("web:http endpoints %v, want %v (ready only)", web.Endpoints, want)
	}
	if dns := got[2]; dns.Protocol != protoUDP || len(dns.Endpoints) != 1 || dns.Endpoints[0].Port != 5353 || dns.NodePort != 0 {
		t.Fatalf("web:dns = %+v", dns)
	}
	if plain := got[1]; plain.NodePort != 0 || len(plain.Endpoints) != 0 {
		t.Fatalf("plain:http = %+v (a ClusterIP service gets no node port; no Endpoints object, no endpoints)", plain)
	}
}
