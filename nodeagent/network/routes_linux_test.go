package network

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestPeerRoutesTwoNodes: two nodes in their own netns, joined by a lab
// link with no route out; host-gw routes make pods on one reach pods on
// the other; SetPeerRoutes adds, keeps, replaces and removes only its own.
func TestPeerRoutesTwoNodes(t *testing.T) {
	requireRoot(t)
	requirePing(t)
	ctx := context.Background()
	node1 := newNetNS(t, "node1")
	node2 := newNetNS(t, "node2")
	pod1 := newNetNS(t, "pod1")
	pod2 := newNetNS(t, "pod2")

	// The lab link: node1 192.168.77.1/24 <-> node2 192.168.77.2/24.
	h1, h2 := handle(t, node1), handle(t, node2)
	ns2, err := openNetNS(node2)
	if err != nil {
		t.Fatal(err)
	}
	defer ns2.Close()
	if err := h1.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lab0"}, PeerName: "lab0", PeerNamespace: netlink.NsFd(ns2)}); err != nil {
		t.Fatal(err)
	}
	for i, h := range []*netlink.Handle{h1, h2} {
		l, err := h.LinkByName("lab0")
		if err != nil {
			t.Fatal(err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(192, 168, 77, byte(i+1)), Mask: net.CIDRMask(24, 32)}}
		if err := h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}

	n1 := setup(t, nodeConfig(t, node1, "10.88.1.0/24"))
	n2 := setup(t, nodeConfig(t, node2, "10.88.2.0/24"))
	a, err := n1.Attach(ctx, "nettest-a", pod1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n2.Attach(ctx, "nettest-b", pod2)
	if err != nil {
		t.Fatal(err)
	}

	// Someone else's route (proto static) and a stale one of ours.
	foreign := &netlink.Route{Dst: prefixToIPNet(mustPrefix("10.88.9.0/24")), Gw: net.IPv4(192, 168, 77, 2), Protocol: unix.RTPROT_STATIC}
	stale := &netlink.Route{Dst: prefixToIPNet(mustPrefix("10.88.8.0/24")), Gw: net.IPv4(192, 168, 77, 2), Protocol: RouteProtocol}
	for _, r := range []*netlink.Route{foreign, stale} {
		if err := h1.RouteAdd(r); err != nil {
			t.Fatal(err)
		}
	}

	if err := n1.SetPeerRoutes([]PeerRoute{{CIDR: mustPrefix("10.88.2.0/24"), Via: mustAddr("192.168.77.2")}}); err != nil {
		t.Fatal(err)
	}
	if err := n2.SetPeerRoutes([]PeerRoute{{CIDR: mustPrefix("10.88.1.0/24"), Via: mustAddr("192.168.77.1")}}); err != nil {
		t.Fatal(err)
	}
	if err := ping(pod1, b.IP); err != nil {
		t.Errorf("pod on node1 → pod on node2: %v", err)
	}
	if err := ping(pod2, a.IP); err != nil {
		t.Errorf("pod on node2 → pod on node1: %v", err)
	}

	routes := func() string {
		out, err := inNS(node1, "ip", "route", "show")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := routes()
	for _, want := range []string{
		"10.88.2.0/24 via 192.168.77.2 dev lab0 proto 115",
		"10.88.9.0/24 via 192.168.77.2 dev lab0 proto static",
		"blackhole 10.88.0.0/16 proto 115",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("node1 routes lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "10.88.8.0/24") {
		t.Errorf("stale route of ours kept:\n%s", got)
	}

	// Same list again: nothing changes. Then a new gateway, then none.
	if err := n1.SetPeerRoutes([]PeerRoute{{CIDR: mustPrefix("10.88.2.0/24"), Via: mustAddr("192.168.77.2")}}); err != nil {
		t.Fatal(err)
	}
	if got2 := routes(); got2 != got {
		t.Errorf("second SetPeerRoutes changed routes:\n%s\nthen\n%s", got, got2)
	}
	if err := n1.SetPeerRoutes([]PeerRoute{{CIDR: mustPrefix("10.88.2.0/24"), Via: mustAddr("192.168.77.3")}}); err != nil {
		t.Fatal(err)
	}
	if pr, err := n1.PeerRoutes(); err != nil || len(pr) != 1 || pr[0].Via.String() != "192.168.77.3" {
		t.Fatalf("PeerRoutes after replace = %+v, %v", pr, err)
	}
	if err := n1.SetPeerRoutes(nil); err != nil {
		t.Fatal(err)
	}
	got = routes()
	if strings.Contains(got, "10.88.2.0/24") || !strings.Contains(got, "10.88.9.0/24") || !strings.Contains(got, "blackhole 10.88.0.0/16") {
		t.Errorf("after SetPeerRoutes(nil):\n%s", got)
	}
	// Without the peer route, node2's pods fall into the blackhole again.
	if out, err := inNS(pod1, "/bin/busybox", "ping", "-c1", "-W1", b.IP.String()); err == nil {
		t.Errorf("pod1 reached %v without a peer route: %s", b.IP, out)
	}

	for _, bad := range [][]PeerRoute{
		{{CIDR: mustPrefix("10.88.1.0/24"), Via: mustAddr("192.168.77.2")}}, // our own CIDR
		{{CIDR: mustPrefix("10.99.0.0/24"), Via: mustAddr("192.168.77.2")}}, // outside the cluster
		{{CIDR: mustPrefix("10.88.4.0/24"), Via: mustAddr("10.88.3.1")}},    // gateway in the cluster
		{{CIDR: mustPrefix("10.88.4.0/24"), Via: mustAddr("192.168.77.2")}, {CIDR: mustPrefix("10.88.4.0/24"), Via: mustAddr("192.168.77.3")}},
	} {
		if err := n1.SetPeerRoutes(bad); err == nil {
			t.Errorf("SetPeerRoutes(%v) accepted", bad)
		}
	}
}
