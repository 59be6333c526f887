package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

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
		func(key string) (*skiffv1.Endpoints, bool) { return ep, key == "default/web" }, Node{})
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

// The Local policies keep this node's ready endpoints; ClientIP affinity
// gives its timeout (defaulted when unset).
func TestDesiredPolicies(t *testing.T) {
	ep := &skiffv1.Endpoints{Slices: []*skiffv1.EndpointSlice{{
		Ports: []*skiffv1.EndpointPort{{Name: "", Port: 8080, Protocol: "TCP"}},
		Endpoints: []*skiffv1.ServiceEndpoint{
			{Addresses: []string{"10.88.0.5"}, NodeName: "a", Conditions: &skiffv1.EndpointConditions{Ready: true}},
			{Addresses: []string{"10.88.1.5"}, NodeName: "b", Conditions: &skiffv1.EndpointConditions{Ready: true}},
			{Addresses: []string{"10.88.0.6"}, NodeName: "a", Conditions: &skiffv1.EndpointConditions{Terminating: true}},
		},
	}}}
	sixty := int32(60)
	svcs := []*skiffv1.Service{
		{Metadata: &skiffv1.ObjectMeta{Namespace: "d", Name: "ext"}, Spec: &skiffv1.ServiceSpec{
			ClusterIp: "10.96.0.1", Type: "NodePort", ExternalTrafficPolicy: "Local", SessionAffinity: "ClientIP",
			Ports: []*skiffv1.ServicePort{{Port: 80, Protocol: "TCP", NodePort: 30001}}}},
		{Metadata: &skiffv1.ObjectMeta{Namespace: "d", Name: "int"}, Spec: &skiffv1.ServiceSpec{
			ClusterIp: "10.96.0.2", InternalTrafficPolicy: "Local", SessionAffinity: "ClientIP",
			SessionAffinityConfig: &skiffv1.SessionAffinityConfig{ClientIp: &skiffv1.ClientIPConfig{TimeoutSeconds: &sixty}},
			Ports:                 []*skiffv1.ServicePort{{Port: 80, Protocol: "TCP"}}}},
		{Metadata: &skiffv1.ObjectMeta{Namespace: "d", Name: "np"}, Spec: &skiffv1.ServiceSpec{
			ClusterIp: "10.96.0.3", Type: "NodePort", InternalTrafficPolicy: "Local", ExternalTrafficPolicy: "Cluster",
			Ports: []*skiffv1.ServicePort{{Port: 80, Protocol: "TCP", NodePort: 30003}}}},
	}
	cidr := netip.MustParsePrefix("10.88.0.0/16")
	a5, b5 := Endpoint{netip.MustParseAddr("10.88.0.5"), 8080}, Endpoint{netip.MustParseAddr("10.88.1.5"), 8080}
	got := Desired(svcs, func(string) (*skiffv1.Endpoints, bool) { return ep, true }, Node{Name: "a", ClusterCIDR: cidr})
	if len(got) != 3 {
		t.Fatalf("got %+v", got)
	}
	// internalTrafficPolicy Local narrows the ClusterIP, not the node port.
	if np := got[2]; !np.InternalLocal || np.ExternalLocal || len(np.Endpoints) != 1 || np.Endpoints[0] != a5 || len(np.ExternalEndpoints) != 2 {
		t.Fatalf("internal Local, external Cluster: %+v; want %v inside, both through the node port", np, a5)
	}
	ext, in := got[0], got[1]
	if !ext.ExternalLocal || ext.InternalSources != cidr || len(ext.Endpoints) != 2 ||
		len(ext.ExternalEndpoints) != 1 || ext.ExternalEndpoints[0] != a5 || ext.AffinityTimeout != 10800 {
		t.Fatalf("externalTrafficPolicy Local: %+v; want all 2 endpoints inside, only %v outside, affinity 10800 s", ext, a5)
	}
	if in.ExternalLocal || len(in.Endpoints) != 1 || in.Endpoints[0] != a5 || in.AffinityTimeout != 60 {
		t.Fatalf("internalTrafficPolicy Local: %+v; want only %v, affinity 60 s", in, a5)
	}
	onB := Desired(svcs, func(string) (*skiffv1.Endpoints, bool) { return ep, true }, Node{Name: "b"})
	if onB[1].Endpoints[0] != b5 || onB[0].ExternalEndpoints[0] != b5 {
		t.Fatalf("on node b: %+v", onB)
	}
	if onC := Desired(svcs, func(string) (*skiffv1.Endpoints, bool) { return ep, true }, Node{Name: "c"}); len(onC[0].ExternalEndpoints) != 0 || len(onC[1].Endpoints) != 0 {
		t.Fatalf("on node c (no endpoints): %+v", onC)
	}
}

func TestStaleUDP(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.88.0.2"), netip.MustParseAddr("10.88.0.3"), netip.MustParseAddr("10.88.0.4")
	ip := netip.MustParseAddr("10.96.0.10")
	dns := ServicePort{Name: "kube-system/dns:dns", ClusterIP: ip, Protocol: protoUDP, Port: 53, Endpoints: []Endpoint{{a, 53}, {b, 53}}}
	web := ServicePort{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.96.0.11"), Protocol: protoTCP, Port: 80, Endpoints: []Endpoint{{a, 80}}}
	with := func(p ServicePort, nodePort uint16, eps ...netip.Addr) ServicePort {
		p.NodePort, p.Endpoints = nodePort, nil
		for _, e := range eps {
			p.Endpoints = append(p.Endpoints, Endpoint{e, 53})
		}
		return p
	}
	var anyAddr netip.Addr
	for _, tc := range []struct {
		name      string
		old, next []ServicePort
		want      []StaleUDP
	}{
		{"unchanged", []ServicePort{dns, web}, []ServicePort{dns, web}, nil},
		{"one endpoint replaced", []ServicePort{dns}, []ServicePort{with(dns, 0, a, c)}, []StaleUDP{{ip, 53, b}}},
		{"service gone", []ServicePort{dns}, nil, []StaleUDP{{ip, 53, a}, {ip, 53, b}}},
		{"TCP is left to itself", []ServicePort{web}, nil, nil},
		{"a node port added clears nothing", []ServicePort{dns}, []ServicePort{with(dns, 30053, a, b)}, nil},
		{"node port gone, ClusterIP kept", []ServicePort{with(dns, 30053, a)}, []ServicePort{with(dns, 0, a)}, []StaleUDP{{anyAddr, 30053, a}}},
		{"endpoint gone from both", []ServicePort{with(dns, 30053, a, b)}, []ServicePort{with(dns, 30053, a)}, []StaleUDP{{ip, 53, b}, {anyAddr, 30053, b}}},
		{"ClusterIP changed", []ServicePort{dns}, []ServicePort{{Name: dns.Name, ClusterIP: netip.MustParseAddr("10.96.0.12"), Protocol: protoUDP, Port: 53, Endpoints: dns.Endpoints}}, []StaleUDP{{ip, 53, a}, {ip, 53, b}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := staleUDP(tc.old, tc.next); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The external addresses of LoadBalancer services: skiff's load balancer
// adds this node's address once it has given the service addresses (not
// while it is pending); another class's VIP ingress is taken on every node
// and its Proxy ingress only where it is the node's; loopback is left out;
// two services wanting one address at one port: the ClusterIP, then the
// older service, keeps it.
func TestDesiredExternalAddresses(t *testing.T) {
	node := Node{Name: "n1", Addresses: []netip.Addr{netip.MustParseAddr("192.168.5.1")}}
	ingress := func(ips ...string) *skiffv1.ServiceStatus {
		st := &skiffv1.ServiceStatus{LoadBalancer: &skiffv1.LoadBalancerStatus{}}
		for _, ip := range ips {
			ip, mode, _ := strings.Cut(ip, "/")
			in := &skiffv1.LoadBalancerIngress{Ip: ip}
			if mode != "" {
				in.IpMode = proto.String(mode)
			}
			st.LoadBalancer.Ingress = append(st.LoadBalancer.Ingress, in)
		}
		return st
	}
	svc := func(name string, age int64, ip string, class *string, ext []string, st *skiffv1.ServiceStatus) *skiffv1.Service {
		return &skiffv1.Service{
			Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: timestamppb.New(time.Unix(1000-age, 0))},
			Spec: &skiffv1.ServiceSpec{Type: skiffv1.ServiceTypeLoadBalancer, ClusterIp: ip, LoadBalancerClass: class, ExternalIps: ext,
				Ports: []*skiffv1.ServicePort{{Port: 80}}},
			Status: st,
		}
	}
	other := proto.String("example.com/lb")
	served := svc("served", 10, "10.96.0.10", nil, []string{"203.0.113.20"}, ingress("192.168.5.1/Proxy", "192.168.5.2/Proxy"))
	served.Spec.LoadBalancerSourceRanges = []string{"10.1.2.3/8", "192.0.2.0/24", "10.0.0.0/8"}
	got := Desired([]*skiffv1.Service{
		served,
		svc("pending", 9, "10.96.0.11", proto.String(skiffv1.LoadBalancerClassSkiff), []string{"203.0.113.9"}, nil),
		svc("foreign", 8, "10.96.0.12", other, nil, ingress("198.51.100.1", "198.51.100.2/Proxy", "192.168.5.1/Proxy", "127.0.0.1")),
		svc("younger", 1, "10.96.0.13", nil, []string{"203.0.113.9", "10.96.0.10", "203.0.113.10"}, ingress("192.168.5.2/Proxy")),
	}, func(string) (*skiffv1.Endpoints, bool) { return nil, false }, node)
	want := map[string][]string{
		"default/served:80":  {"192.168.5.1", "203.0.113.20"},
		"default/pending:80": {"203.0.113.9"},
		// 192.168.5.1:80 is the older served's; 203.0.113.9:80 too is an
		// older service's, 10.96.0.10 a ClusterIP.
		"default/foreign:80": {"198.51.100.1"},
		"default/younger:80": {"203.0.113.10"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d ports: %+v", len(got), got)
	}
	for _, p := range got {
		var addrs []string
		for _, a := range p.External {
			addrs = append(addrs, a.String())
		}
		if !slices.Equal(addrs, want[p.Name]) {
			t.Errorf("%s: external %v, want %v", p.Name, addrs, want[p.Name])
		}
		if p.NodePort != 0 {
			t.Errorf("%s: node port %d without one in its spec", p.Name, p.NodePort)
		}
		// Source ranges guard the load balancer's address, not the
		// externalIP; masked, sorted, once each.
		wantFw, wantRanges := "[]", "[]"
		if p.Name == "default/served:80" {
			wantFw, wantRanges = "[192.168.5.1]", "[10.0.0.0/8 192.0.2.0/24]"
		}
		if fw, rs := fmt.Sprint(p.Firewalled), fmt.Sprint(p.SourceRanges); fw != wantFw || rs != wantRanges {
			t.Errorf("%s: firewalled %s from %s, want %s from %s", p.Name, fw, rs, wantFw, wantRanges)
		}
	}
}
