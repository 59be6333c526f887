package proxy

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// lbService is a LoadBalancer service at port 80 whose load balancer gave
// it this node's address and another node's (Proxy mode), with an
// externalIP, and its Endpoints: pod1 on this node ("here"), pod2 on
// another.
func lbService(l *lab, policy string, eps ...int) (*skiffv1.Service, *skiffv1.Endpoints) {
	svc := &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: &skiffv1.ServiceSpec{
			Type: skiffv1.ServiceTypeLoadBalancer, ClusterIp: "10.96.0.50", ExternalIps: []string{"192.0.2.10"},
			ExternalTrafficPolicy: policy,
			Ports:                 []*skiffv1.ServicePort{{Name: "http", Port: 80, TargetPort: "8080", NodePort: 30111}},
		},
		Status: &skiffv1.ServiceStatus{LoadBalancer: &skiffv1.LoadBalancerStatus{Ingress: []*skiffv1.LoadBalancerIngress{
			{Ip: "10.78.0.1", IpMode: proto.String(skiffv1.LoadBalancerIPModeProxy)},
			{Ip: "10.78.0.99", IpMode: proto.String(skiffv1.LoadBalancerIPModeProxy)},
		}}},
	}
	slice := &skiffv1.EndpointSlice{Ports: []*skiffv1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}}}
	for _, i := range eps {
		node := "here"
		if i != 1 {
			node = "other"
		}
		slice.Endpoints = append(slice.Endpoints, &skiffv1.ServiceEndpoint{
			Addresses: []string{l.podIP(i).String()}, NodeName: node, Conditions: &skiffv1.EndpointConditions{Ready: true},
		})
	}
	return svc, &skiffv1.Endpoints{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "web"}, Slices: []*skiffv1.EndpointSlice{slice}}
}

func lbDesired(l *lab, policy string, eps ...int) []ServicePort {
	return lbDesiredFrom(l, policy, nil, eps...)
}

func lbDesiredFrom(l *lab, policy string, sourceRanges []string, eps ...int) []ServicePort {
	svc, ep := lbService(l, policy, eps...)
	svc.Spec.LoadBalancerSourceRanges = sourceRanges
	node := Node{Name: "here", ClusterCIDR: netip.MustParsePrefix("10.77.0.0/16"), Addresses: []netip.Addr{netip.MustParseAddr("10.78.0.1")}}
	return Desired([]*skiffv1.Service{svc}, func(string) (*skiffv1.Endpoints, bool) { return ep, true }, node)
}

// A LoadBalancer service is answered at the node's own address and at its
// externalIP, at the service's port, from outside the node, from a pod
// and from the node itself, and spreads over every endpoint (Cluster
// policy, masqueraded); another node's ingress address is left to that
// node. Under externalTrafficPolicy Local an outside client reaches only
// this node's endpoint, which sees the client's address, and is dropped
// when the node has none while the node itself still reaches the service;
// without any endpoint the addresses refuse. Every step after the first
// is a partial update.
func TestLoadBalancerAddressesInNetNS(t *testing.T) {
	l := newLab(t, 3)
	t.Cleanup(func() { withConn(l.node, Remove) })
	for i := 1; i < 3; i++ {
		l.serveAddr(i)
	}
	client := l.outsideClient()

	cur := lbDesired(l, "Cluster", 1, 2)
	if len(cur) != 1 || !slices.Equal(cur[0].External, []netip.Addr{netip.MustParseAddr("10.78.0.1"), netip.MustParseAddr("192.0.2.10")}) {
		t.Fatalf("desired %+v; want the node's address and the externalIP, not the other node's", cur)
	}
	l.program(cur)
	for _, c := range []struct{ name, ns, url string }{
		{"outside client, node address", client, "http://10.78.0.1/cgi-bin/a"},
		{"outside client, externalIP", client, "http://192.0.2.10/cgi-bin/a"},
		{"pod, node address", l.pods[0], "http://10.78.0.1/cgi-bin/a"},
		{"pod, externalIP", l.pods[0], "http://192.0.2.10/cgi-bin/a"},
		{"node, its own address", l.node, "http://10.78.0.1/cgi-bin/a"},
	} {
		got := l.counts(c.ns, c.url, 30)
		pods := map[string]bool{}
		for answer := range got {
			pod, addr, _ := strings.Cut(answer, " ")
			pods[pod] = true
			if addr == "[::ffff:10.78.0.2]" {
				t.Errorf("%s: the endpoint saw the client's address under the Cluster policy: %v", c.name, got)
			}
		}
		if len(pods) != 2 {
			t.Errorf("%s: %v; want both endpoints", c.name, got)
		}
	}

	next := lbDesired(l, "Local", 1, 2)
	update(t, l, cur, next)
	cur = next
	if got := l.counts(client, "http://10.78.0.1/cgi-bin/a", 20); len(got) != 1 || got["pod1 [::ffff:10.78.0.2]"] != 20 {
		t.Fatalf("Local, outside client: %v; want all 20 at pod1, seeing 10.78.0.2", got)
	}
	if got := l.counts(client, "http://192.0.2.10/cgi-bin/a", 10); len(got) != 1 || got["pod1 [::ffff:10.78.0.2]"] != 10 {
		t.Fatalf("Local, outside client to the externalIP: %v; want all at pod1", got)
	}

	// Only an endpoint on another node: dropped from outside, served from
	// the node (internal traffic).
	next = lbDesired(l, "Local", 2)
	update(t, l, cur, next)
	cur = next
	if out, err := l.get(client, "http://10.78.0.1/"); err == nil {
		t.Fatalf("Local without an endpoint on the node answered: %s", out)
	}
	if got := l.counts(l.node, "http://10.78.0.1/", 5); got["pod2"] != 5 {
		t.Fatalf("the node itself: %v; want pod2", got)
	}

	// loadBalancerSourceRanges: only those sources reach the load
	// balancer's address (the node's); the externalIP is not the load
	// balancer's and stays open.
	next = lbDesiredFrom(l, "Cluster", []string{"10.78.0.2/32"}, 1, 2)
	if !slices.Equal(next[0].Firewalled, []netip.Addr{netip.MustParseAddr("10.78.0.1")}) {
		t.Fatalf("firewalled %v; want the node's address only", next[0].Firewalled)
	}
	update(t, l, cur, next)
	cur = next
	if got := l.counts(client, "http://10.78.0.1/", 5); len(got) == 0 {
		t.Fatal("an allowed source lost the load balancer")
	}
	if out, err := l.get(l.pods[0], "http://10.78.0.1/"); err == nil {
		t.Fatalf("a source outside loadBalancerSourceRanges reached the load balancer: %s", out)
	}
	if got := l.counts(l.pods[0], "http://192.0.2.10/", 3); len(got) == 0 {
		t.Fatal("the source ranges closed the externalIP too")
	}
	next = lbDesiredFrom(l, "Cluster", []string{"10.77.0.0/16"}, 1, 2)
	update(t, l, cur, next)
	cur = next
	if out, err := l.get(client, "http://10.78.0.1/"); err == nil {
		t.Fatalf("the outside client, no longer in the source ranges, reached the load balancer: %s", out)
	}
	if got := l.counts(l.pods[0], "http://10.78.0.1/", 3); len(got) == 0 {
		t.Fatal("a pod, now in the source ranges, did not reach the load balancer")
	}

	// No endpoint at all: refused at once, as the ClusterIP is.
	next = lbDesired(l, "Cluster")
	update(t, l, cur, next)
	for _, addr := range []string{"10.78.0.1:80", "192.0.2.10:80", "10.96.0.50:80"} {
		if err := dialTCP(t, client, addr); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s without endpoints: %v, want connection refused", addr, err)
		}
	}
}
