package network

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestTeardown: on a node with a pod attached, a peer route, the
// blackhole and the masquerade table, Teardown removes exactly those (and
// says so), leaves another owner's link and route alone, and finds nothing
// to do the second time.
func TestTeardown(t *testing.T) {
	requireRoot(t)
	node := newNetNS(t, "teardown-node")
	pod := newNetNS(t, "teardown-pod")
	other := newNetNS(t, "teardown-other")
	h := handle(t, node)
	otherFd, err := openNetNS(other)
	if err != nil {
		t.Fatal(err)
	}
	defer otherFd.Close()
	// Another owner's link (a veth without our alias) and route.
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink0"}, PeerName: "uplink0", PeerNamespace: netlink.NsFd(otherFd)}); err != nil {
		t.Fatal(err)
	}
	up, err := h.LinkByName("uplink0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(up, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(192, 168, 79, 1), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(up); err != nil {
		t.Fatal(err)
	}
	foreign := &netlink.Route{Dst: &net.IPNet{IP: net.IPv4(10, 99, 0, 0), Mask: net.CIDRMask(16, 32)},
		Gw: net.IPv4(192, 168, 79, 2), Protocol: unix.RTPROT_STATIC}
	if err := h.RouteAdd(foreign); err != nil {
		t.Fatal(err)
	}

	cfg := nodeConfig(t, node, "10.88.7.0/24")
	cfg.ServiceCIDR = mustPrefix("10.96.0.0/12")
	n := setup(t, cfg)
	if _, err := n.Attach(context.Background(), testPodPrefix+"teardown", pod); err != nil {
		t.Fatal(err)
	}
	if err := n.SetPeerRoutes([]PeerRoute{{CIDR: mustPrefix("10.88.8.0/24"), Via: mustAddr("192.168.79.2")}}); err != nil {
		t.Fatal(err)
	}
	if err := n.EnsureMasquerade(); err != nil {
		t.Fatal(err)
	}

	removed, err := Teardown(node, "")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(removed, "\n")
	for _, want := range []string{"bridge skiff0", "veth skv", "route blackhole 10.88.0.0/16", "route 10.88.8.0/24 via 192.168.79.2", "nftables table ip skiff",
		"bridge skiff-svc", "rule to 10.96.0.0/12 iif lo lookup 2946"} {
		if !strings.Contains(got, want) {
			t.Errorf("Teardown reported:\n%s\nwant a line with %q", got, want)
		}
	}
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"lo", "uplink0"}) {
		t.Errorf("links left: %v, want lo and uplink0", names)
	}
	routes, err := h.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	var kept bool
	for _, r := range routes {
		if r.Protocol == RouteProtocol {
			t.Errorf("route of ours left: %v", r)
		}
		kept = kept || (r.Dst != nil && r.Dst.String() == "10.99.0.0/16")
	}
	if !kept {
		t.Error("another owner's route was removed")
	}
	if out, err := inNS(node, "ip", "rule", "show"); err != nil || strings.Contains(out, "2946") {
		t.Errorf("service rule left: %s %v", out, err)
	}
	if ok, err := hasMasqTable(node); err != nil || ok {
		t.Errorf("masquerade table left: %v %v", ok, err)
	}

	again, err := Teardown(node, "")
	if err != nil || len(again) != 0 {
		t.Fatalf("second Teardown: %v, %v; want nothing to do", again, err)
	}
}
