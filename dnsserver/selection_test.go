package dnsserver

import (
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPodLiveness(t *testing.T) {
	pod := func(mut func(p *skiffv1.Pod)) *skiffv1.Pod {
		p := &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "ns"},
			Status:   &skiffv1.PodStatus{Phase: "Running", PodIp: "10.0.0.1"},
		}
		if mut != nil {
			mut(p)
		}
		return p
	}
	for _, c := range []struct {
		name string
		p    *skiffv1.Pod
		live bool
	}{
		{"running", pod(nil), true},
		{"pending with an IP", pod(func(p *skiffv1.Pod) { p.Status.Phase = "Pending" }), true},
		{"no IP", pod(func(p *skiffv1.Pod) { p.Status.PodIp = "" }), false},
		{"bad IP", pod(func(p *skiffv1.Pod) { p.Status.PodIp = "10.0.0" }), false},
		{"deleting", pod(func(p *skiffv1.Pod) { p.Metadata.DeletionTimestamp = timestamppb.Now() }), false},
		{"succeeded", pod(func(p *skiffv1.Pod) { p.Status.Phase = "Succeeded" }), false},
		{"failed", pod(func(p *skiffv1.Pod) { p.Status.Phase = "Failed" }), false},
		{"nil", nil, false},
	} {
		if _, live := podIP(c.p); live != c.live {
			t.Errorf("%s: live %v, want %v", c.name, live, c.live)
		}
	}
}

// Only ready endpoints are served, each address once, sorted by IP; a
// service whose Endpoints object does not exist yet has none.
func TestServiceViewServesReadyEndpoints(t *testing.T) {
	svc := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "ns"},
		Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Name: "HTTP", Port: 80}}}}
	end := func(ip, pod string, ready, terminating bool) *skiffv1.ServiceEndpoint {
		return &skiffv1.ServiceEndpoint{Addresses: []string{ip}, TargetRef: &skiffv1.ObjectReference{Kind: "Pod", Name: pod},
			Conditions: &skiffv1.EndpointConditions{Ready: ready, Serving: ready || terminating, Terminating: terminating}}
	}
	ep := &skiffv1.Endpoints{Slices: []*skiffv1.EndpointSlice{
		{Ports: []*skiffv1.EndpointPort{{Name: "HTTP", Port: 8080}},
			Endpoints: []*skiffv1.ServiceEndpoint{end("10.0.0.9", "c", true, false), end("10.0.0.3", "x", false, true), end("10.0.0.4", "y", false, false)}},
		{Endpoints: []*skiffv1.ServiceEndpoint{end("10.0.0.1", "a", true, false), end("10.0.0.9", "c", true, false), end("bad", "z", true, false)}},
	}}
	got := serviceView(svc, ep)
	if s := fmt.Sprint(got.Endpoints); s != "[{10.0.0.1 a  map[]} {10.0.0.9 c  map[http:8080]}]" {
		t.Errorf("endpoints %s, want a and c once each, by IP, with the ports of their first slice", s)
	}
	if len(got.Ports) != 1 || got.Ports[0] != (Port{Name: "http", Protocol: "tcp", Port: 80}) {
		t.Errorf("ports %v", got.Ports)
	}
	if none := serviceView(svc, nil); len(none.Endpoints) != 0 || none.Name != "s" {
		t.Errorf("without an Endpoints object: %+v", none)
	}
}

// A headless service's SRV records carry the port each pod serves the
// service port on (its resolved targetPort), and leave out pods that do
// not serve it, as CoreDNS answers.
func TestHeadlessSRVCarriesEndpointPorts(t *testing.T) {
	b := NewMemoryBackend()
	b.SetService(Service{Namespace: "default", Name: "web", Ports: []Port{{Name: "http", Protocol: "tcp", Port: 80}},
		Endpoints: []Endpoint{
			{IP: ip("10.0.0.1"), Pod: "a", Ports: map[string]uint16{"http": 8080}},
			{IP: ip("10.0.0.2"), Pod: "b", Ports: map[string]uint16{"http": 8081}},
			{IP: ip("10.0.0.3"), Pod: "c", Ports: map[string]uint16{}},
		}})
	ts := startServer(t, Config{Backend: b})
	for _, name := range []string{"_http._tcp.web.default.svc.cluster.local.", "web.default.svc.cluster.local."} {
		resp := ts.exchange(t, query(name, dns.TypeSRV), "udp")
		var got []string
		for _, r := range resp.Answer {
			srv := r.(*dns.SRV)
			got = append(got, fmt.Sprintf("%d %s", srv.Port, srv.Target))
		}
		slices.Sort(got)
		want := []string{"8080 10-0-0-1.web.default.svc.cluster.local.", "8081 10-0-0-2.web.default.svc.cluster.local."}
		if !slices.Equal(got, want) {
			t.Errorf("%s SRV: %v, want %v", name, got, want)
		}
		if len(resp.Extra) != 2 {
			t.Errorf("%s: additional %v, want the two targets' A records", name, resp.Extra)
		}
	}
}
