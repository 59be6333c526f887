package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// With ClientIP affinity every connection of one client goes to one
// endpoint while another client may land elsewhere; when that endpoint
// leaves, the client moves to another and sticks there; without affinity
// the same client spreads.
func TestClientIPAffinityInNetNS(t *testing.T) {
	l := newLab(t, 4)
	for i := 1; i < 4; i++ {
		l.serve(i)
	}
	eps := []Endpoint{{l.podIP(1), 8080}, {l.podIP(2), 8080}, {l.podIP(3), 8080}}
	svc := ServicePort{Name: "default/sticky:http", ClusterIP: netip.MustParseAddr("10.96.0.20"), Protocol: protoTCP, Port: 80, Endpoints: eps, AffinityTimeout: 600}
	l.program([]ServicePort{svc})
	t.Cleanup(func() { withConn(l.node, Remove) })

	got := l.counts(l.pods[0], "http://10.96.0.20/", 30)
	if len(got) != 1 {
		t.Fatalf("one client reached %d endpoints with ClientIP affinity: %v", len(got), got)
	}
	var stuck int
	for name := range got {
		fmt.Sscanf(name, "pod%d", &stuck)
	}
	// The node is another client (its own address): it sticks too.
	if got := l.counts(l.node, "http://10.96.0.20/", 10); len(got) != 1 {
		t.Fatalf("the node reached %d endpoints: %v", len(got), got)
	}

	// The endpoint pod0 sticks to leaves (a partial update): pod0 moves
	// to another and stays there, and never reaches the one gone.
	before := []ServicePort{svc}
	svc.Endpoints = nil
	for _, e := range eps {
		if e.IP != l.podIP(stuck) {
			svc.Endpoints = append(svc.Endpoints, e)
		}
	}
	if err := withConn(l.node, func(c *nftables.Conn) error {
		partial, err := Update(c, before, []ServicePort{svc})
		if err == nil && !partial {
			t.Error("an endpoint change rewrote the whole table")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got = l.counts(l.pods[0], "http://10.96.0.20/", 20)
	if len(got) != 1 || got[fmt.Sprintf("pod%d", stuck)] != 0 {
		t.Fatalf("after pod%d left: %v; want one endpoint, not pod%d", stuck, got, stuck)
	}

	// Without affinity the same client spreads over the endpoints.
	svc.AffinityTimeout = 0
	l.program([]ServicePort{svc})
	if got := l.counts(l.pods[0], "http://10.96.0.20/", 30); len(got) != 2 {
		t.Fatalf("without affinity 30 requests reached %v; want both endpoints", got)
	}
}

// externalTrafficPolicy Local: a client outside the node reaches only the
// node's own endpoint, which sees the client's address (no masquerade);
// with no endpoint on the node the node port drops; connections from the
// node itself still reach every endpoint.
func TestExternalTrafficPolicyLocalInNetNS(t *testing.T) {
	l := newLab(t, 3)
	for i := 1; i < 3; i++ {
		l.serveAddr(i)
	}
	client := l.outsideClient()
	remote := Endpoint{l.podIP(2), 8080} // stands for a pod on another node
	local := Endpoint{l.podIP(1), 8080}
	svc := ServicePort{Name: "default/local:http", ClusterIP: netip.MustParseAddr("10.96.0.30"), Protocol: protoTCP, Port: 80, NodePort: 30090,
		Endpoints: []Endpoint{local, remote}, ExternalLocal: true, LocalEndpoints: []Endpoint{local},
		InternalSources: netip.MustParsePrefix("10.77.0.0/16")}
	l.program([]ServicePort{svc})
	t.Cleanup(func() { withConn(l.node, Remove) })

	got := l.counts(client, "http://10.78.0.1:30090/cgi-bin/a", 20)
	if len(got) != 1 || got["pod1 [::ffff:10.78.0.2]"] != 20 {
		t.Fatalf("external client through the node port: %v; want all 20 at pod1, seeing the client's address 10.78.0.2", got)
	}
	// From the node and from a pod (internal): both endpoints, masqueraded.
	if got := l.counts(l.node, "http://10.78.0.1:30090/", 30); len(got) != 2 {
		t.Fatalf("from the node: %v; want both endpoints", got)
	}
	if got := l.counts(l.pods[0], "http://10.78.0.1:30090/", 30); len(got) != 2 {
		t.Fatalf("from a pod: %v; want both endpoints", got)
	}

	// No endpoint on this node: the node port drops.
	before := []ServicePort{svc}
	svc.LocalEndpoints = nil
	if err := withConn(l.node, func(c *nftables.Conn) error { _, err := Update(c, before, []ServicePort{svc}); return err }); err != nil {
		t.Fatal(err)
	}
	if out, err := l.get(client, "http://10.78.0.1:30090/"); err == nil {
		t.Fatalf("a node without a local endpoint answered the node port: %s", out)
	}
	if got := l.counts(l.node, "http://10.78.0.1:30090/", 5); len(got) == 0 {
		t.Fatal("the node itself lost the service")
	}
}

// serveAddr is serve with a CGI, /cgi-bin/a, answering "podN <client
// address>".
func (l *lab) serveAddr(i int) {
	dir := l.t.TempDir()
	must(l.t, os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755))
	must(l.t, os.WriteFile(filepath.Join(dir, "cgi-bin", "a"), []byte(fmt.Sprintf(
		"#!/bin/busybox sh\necho Content-Type: text/plain\necho\necho pod%d $REMOTE_ADDR\n", i)), 0o755))
	must(l.t, os.WriteFile(filepath.Join(dir, "index.html"), []byte(fmt.Sprintf("pod%d\n", i)), 0o644))
	l.serveDir(i, dir)
}

// outsideClient makes a namespace beside the node (10.78.0.2, the node
// 10.78.0.1 on a veth between them), routed to the node only.
func (l *lab) outsideClient() string {
	c := newNetNS(l.t, "client")
	h := nsHandle(l.t, l.node)
	fd, err := os.Open(c)
	must(l.t, err)
	defer fd.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vc"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(fd.Fd()))}
	must(l.t, h.LinkAdd(veth))
	must(l.t, h.AddrAdd(veth, &netlink.Addr{IPNet: ipNet("10.78.0.1/24")}))
	must(l.t, h.LinkSetUp(veth))
	ch := nsHandle(l.t, c)
	eth, err := ch.LinkByName("eth0")
	must(l.t, err)
	must(l.t, ch.AddrAdd(eth, &netlink.Addr{IPNet: ipNet("10.78.0.2/24")}))
	must(l.t, ch.LinkSetUp(eth))
	lo, _ := ch.LinkByName("lo")
	must(l.t, ch.LinkSetUp(lo))
	must(l.t, ch.RouteAdd(&netlink.Route{Gw: net.ParseIP("10.78.0.1"), LinkIndex: eth.Attrs().Index}))
	return c
}
