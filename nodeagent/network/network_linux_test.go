package network

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestPodNetwork runs a node in a netns of its own with two pods: pods
// reach each other, the gateway and the node; the node reaches pods; the
// cluster CIDR outside the node's /24 goes nowhere.
func TestPodNetwork(t *testing.T) {
	requireRoot(t)
	requirePing(t)
	ctx := context.Background()
	node := newNetNS(t, "node")
	podA := newNetNS(t, "pod-a")
	podB := newNetNS(t, "pod-b")

	// A stand-in for the node's uplink with a default route, so we can
	// show that cluster traffic never takes the default route: a veth
	// whose other end sits down in a "sink" netns of its own (the kernel
	// counts what is sent and drops it; it reaches nothing).
	nh := handle(t, node)
	sink := newNetNS(t, "sink")
	uplink := sinkLink(t, node, sink, "uplink0")
	if err := nh.AddrAdd(uplink, &netlink.Addr{IPNet: prefixToIPNet(mustPrefix("192.0.2.1/24"))}); err != nil {
		t.Fatal(err)
	}
	if err := nh.RouteAdd(&netlink.Route{LinkIndex: uplink.Attrs().Index, Gw: net.ParseIP("192.0.2.254")}); err != nil {
		t.Fatal(err)
	}

	cfg := nodeConfig(t, node, "10.88.3.0/24")
	n := setup(t, cfg)

	a, err := n.Attach(ctx, "nettest-pod-a", podA)
	if err != nil {
		t.Fatalf("Attach a: %v", err)
	}
	b, err := n.Attach(ctx, "nettest-pod-b", podB)
	if err != nil {
		t.Fatalf("Attach b: %v", err)
	}
	t.Logf("a=%+v b=%+v", a, b)
	if a.IP.String() != "10.88.3.2" || b.IP.String() != "10.88.3.3" || a.Gateway.String() != "10.88.3.1" || a.PrefixLen != 24 {
		t.Fatalf("unexpected attachments %+v %+v", a, b)
	}
	if len(a.HostVeth) > 15 || a.HostVeth == b.HostVeth {
		t.Fatalf("host veths %q %q", a.HostVeth, b.HostVeth)
	}

	for _, c := range []struct {
		from string
		name string
		to   netip.Addr
	}{
		{podA, "pod a → pod b", b.IP},
		{podB, "pod b → pod a", a.IP},
		{podA, "pod a → gateway", a.Gateway},
		{node, "node → pod a", a.IP},
		{podA, "pod a → itself", a.IP},
	} {
		if err := ping(c.from, c.to); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// The pod's view: eth0 with the MAC from its IP, default route via
	// the gateway, lo up.
	out, err := inNS(podA, "ip", "-o", "link", "show", "eth0")
	if err != nil || !strings.Contains(out, a.MAC.String()) {
		t.Errorf("pod eth0: %v %s (want MAC %s)", err, out, a.MAC)
	}
	out, err = inNS(podA, "ip", "route", "show", "default")
	if err != nil || !strings.Contains(out, "default via 10.88.3.1 dev eth0") {
		t.Errorf("pod default route: %v %q", err, out)
	}
	out, _ = inNS(podA, "ip", "-o", "link", "show", "lo")
	if !strings.Contains(out, "UP") {
		t.Errorf("pod lo not up: %s", out)
	}
	// No IPv6 link-local address on either end of the veth (pod networks
	// are IPv4; see noIPv6Addresses), while the pod's lo keeps ::1.
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Fatalf("this kernel has no IPv6 (%v): the suite needs it to check pods get no link-local address", err)
	}
	for _, c := range []struct{ ns, dev, want string }{{podA, "eth0", ""}, {node, a.HostVeth, ""}, {podA, "lo", "::1/128"}} {
		out, err := inNS(c.ns, "ip", "-o", "-6", "addr", "show", "dev", c.dev)
		if err != nil {
			t.Fatalf("ip -6 addr show dev %s: %v: %s", c.dev, err, out)
		}
		if got := strings.Join(strings.Fields(out), " "); c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("IPv6 addresses of %s: %q, want %q", c.dev, got, c.want)
		}
	}

	// Node: forwarding on in the node netns only, bridge holds .1/24.
	out, err = inNS(node, "cat", "/proc/sys/net/ipv4/ip_forward")
	if err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("node ip_forward = %q, %v", out, err)
	}
	out, _ = inNS(node, "ip", "-o", "-4", "addr", "show", "dev", "skiff0")
	if !strings.Contains(out, "10.88.3.1/24") {
		t.Errorf("bridge address: %s", out)
	}

	checkClusterBlackholed(t, node, podA, nh, uplink)

	// Setup again (an agent restart): nothing changes, pods stay reachable.
	n2 := setup(t, cfg)
	a2, err := n2.Attach(ctx, "nettest-pod-a", podA)
	if err != nil || a2.IP != a.IP || a2.HostVeth != a.HostVeth || a2.MAC.String() != a.MAC.String() {
		t.Fatalf("re-Attach after Setup again = %+v, %v; want %+v", a2, err, a)
	}
	if got, err := n2.Lookup("nettest-pod-b"); err != nil || got.IP != b.IP || got.HostVeth != b.HostVeth {
		t.Fatalf("Lookup(pod-b) = %+v, %v", got, err)
	}
	if list, err := n2.List(); err != nil || len(list) != 2 || list[0].PodID != "nettest-pod-a" || list[1].PodID != "nettest-pod-b" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := ping(podA, b.IP); err != nil {
		t.Errorf("after Setup again, a → b: %v", err)
	}
	if err := ping(node, b.IP); err != nil {
		t.Errorf("after Setup again, node → b: %v", err)
	}

	// Detach twice; the address is released and the veth is gone.
	for i := range 2 {
		if err := n2.Detach(ctx, "nettest-pod-b", podB); err != nil {
			t.Fatalf("Detach %d: %v", i, err)
		}
	}
	if _, err := n2.Lookup("nettest-pod-b"); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("Lookup after Detach: %v", err)
	}
	if _, err := nh.LinkByName(b.HostVeth); err == nil {
		t.Fatalf("host veth %s still there", b.HostVeth)
	}
	if out, err := inNS(podB, "ip", "-o", "link"); err != nil || strings.Contains(out, "eth0") {
		t.Fatalf("pod b still has eth0: %v %s", err, out)
	}
	// Released address is reused by the next pod.
	podC := newNetNS(t, "pod-c")
	c, err := n2.Attach(ctx, "nettest-pod-c", podC)
	if err != nil || c.IP != b.IP {
		t.Fatalf("Attach c = %+v, %v; want reuse of %v", c, err, b.IP)
	}
	if err := ping(podA, c.IP); err != nil {
		t.Errorf("a → c on reused address: %v", err)
	}
}

// checkClusterBlackholed: the blackhole route for the cluster CIDR is
// there, and packets to a cluster address outside the node's /24 — from
// the node and forwarded from a pod — are dropped, not sent out by the
// default route (the uplink's transmit counter does not move).
func checkClusterBlackholed(t *testing.T, node, pod string, nh *netlink.Handle, uplink netlink.Link) {
	t.Helper()
	routes, err := nh.RouteListFiltered(unix.AF_INET, &netlink.Route{Type: unix.RTN_BLACKHOLE, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_TYPE|netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == "10.88.0.0/16" && r.Protocol == RouteProtocol {
			found = true
		}
	}
	if !found {
		t.Fatalf("no blackhole route for 10.88.0.0/16 in %+v", routes)
	}
	out, _ := inNS(node, "ip", "route", "get", "10.88.7.5")
	if !strings.Contains(out, "blackhole") && !strings.Contains(out, "Invalid argument") {
		t.Errorf("route get 10.88.7.5 in node: %q", out)
	}
	txBefore := txPackets(t, nh, uplink)
	if out, err := inNS(node, "/bin/busybox", "ping", "-c1", "-W1", "10.88.7.5"); err == nil {
		t.Errorf("node reached 10.88.7.5: %s", out)
	}
	if out, err := inNS(pod, "/bin/busybox", "ping", "-c2", "-W1", "10.88.7.5"); err == nil {
		t.Errorf("pod reached 10.88.7.5: %s", out)
	}
	if after := txPackets(t, nh, uplink); after != txBefore {
		t.Errorf("uplink sent %d packets for the cluster CIDR", after-txBefore)
	}
	// Sanity check of the check: an address outside the cluster does take
	// the uplink (the dummy swallows it; nothing leaves the netns).
	inNS(node, "/bin/busybox", "ping", "-c1", "-W1", "198.51.100.1")
	if after := txPackets(t, nh, uplink); after == txBefore {
		t.Errorf("uplink counter did not move for a non-cluster address; the check above proves nothing")
	}
}

func txPackets(t *testing.T, h *netlink.Handle, l netlink.Link) uint64 {
	t.Helper()
	link, err := h.LinkByName(l.Attrs().Name)
	if err != nil {
		t.Fatal(err)
	}
	return link.Attrs().Statistics.TxPackets
}

// TestDetachAfterNetnsGone: the sandbox is removed before the agent
// detaches; the address and the host veth are still cleaned up.
func TestDetachAfterNetnsGone(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	node := newNetNS(t, "node")
	pod := newNetNS(t, "pod")
	n := setup(t, nodeConfig(t, node, "10.88.5.0/24"))
	att, err := n.Attach(ctx, "nettest-gone", pod)
	if err != nil {
		t.Fatal(err)
	}
	removeNetNS(t, pod)
	for i := range 2 {
		if err := n.Detach(ctx, "nettest-gone", pod); err != nil {
			t.Fatalf("Detach %d after netns gone: %v", i, err)
		}
	}
	if _, ok, _ := n.IPAM().Get("nettest-gone"); ok {
		t.Fatal("address not released")
	}
	// The kernel removes the pair with the netns, asynchronously; either
	// way it must not be there now or shortly.
	nh := handle(t, node)
	if l, err := nh.LinkByName(att.HostVeth); err == nil {
		t.Fatalf("host veth still there: %+v", l.Attrs())
	}
	// Attaching to a missing netns fails cleanly and leaks no address.
	if _, err := n.Attach(ctx, "nettest-nons", pod); err == nil {
		t.Fatal("Attach to a removed netns succeeded")
	} else {
		t.Logf("attach to a removed netns: %v", err)
	}
	if _, ok, _ := n.IPAM().Get("nettest-nons"); ok {
		t.Fatal("failed Attach leaked its address")
	}
}

// TestSetupIdempotent: Setup twice keeps one bridge, one address, one
// blackhole route per CIDR, one rule and route for the node's own service
// traffic; it refuses a non-bridge under the bridge name.
func TestSetupIdempotent(t *testing.T) {
	requireRoot(t)
	node := newNetNS(t, "node")
	cfg := nodeConfig(t, node, "10.88.6.0/24")
	cfg.ServiceCIDR = mustPrefix("10.96.0.0/12")
	setup(t, cfg)
	setup(t, cfg)
	for _, c := range [][]string{
		{"ip", "-o", "-4", "addr", "show", "dev", "skiff0"},
		{"ip", "route", "show", "type", "blackhole", "10.88.0.0/16"},
		{"ip", "route", "show", "type", "blackhole", "10.96.0.0/12"},
		{"ip", "rule", "show", "to", "10.96.0.0/12", "iif", "lo", "lookup", "2946"},
		{"ip", "route", "show", "table", "2946", "10.96.0.0/12", "dev", "skiff-svc"},
	} {
		out, err := inNS(node, c...)
		if err != nil || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: want one line, got %q %v", c, out, err)
		}
	}
	out, _ := inNS(node, "ip", "-o", "link", "show", "skiff0")
	if !strings.Contains(out, "0a:58:0a:58:06:01") || !strings.Contains(out, "state UP") && !strings.Contains(out, ",UP") {
		t.Errorf("bridge: %s", out)
	}

	other := newNetNS(t, "node2")
	sinkLink(t, other, newNetNS(t, "sink"), "skiff0")
	if _, err := Setup(nodeConfig(t, other, "10.88.6.0/24")); err == nil || !strings.Contains(err.Error(), "not a bridge") {
		t.Fatalf("Setup over a dummy named skiff0: %v", err)
	}
}

// sinkLink makes a veth named name, up, in the namespace at nsPath, whose
// peer is in the namespace at sink, which has no address and no route: a
// link that sends into nothing.
func sinkLink(t *testing.T, nsPath, sink, name string) netlink.Link {
	t.Helper()
	h := handle(t, nsPath)
	ns, err := openNetNS(sink)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "sink0", PeerNamespace: netlink.NsFd(ns)}
	if err := h.LinkAdd(v); err != nil {
		t.Fatalf("veth %s: %v", name, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	// No IPv6 chatter (router solicitations, DAD) to move the counters.
	for _, c := range []struct{ ns, dev string }{{nsPath, name}, {sink, "sink0"}} {
		inNetNS(c.ns, func() error {
			return writeSysctl("net/ipv6/conf/"+c.dev+"/disable_ipv6", "1")
		})
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	// The sink end up too, so the link has carrier and sends for real.
	sh := handle(t, sink)
	if peer, err := sh.LinkByName("sink0"); err != nil {
		t.Fatal(err)
	} else if err := sh.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	return l
}
