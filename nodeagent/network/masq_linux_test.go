package network

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// TestMasquerade: a pod reaches a host outside the cluster CIDR that has
// no route back to pods only while skiff's masquerade table is there; the
// table is idempotent (one rule after two calls) and removable. Everything
// happens inside namespaces the test made: the "outside" host is one of
// them, so no packet leaves the machine.
func TestMasquerade(t *testing.T) {
	requireRoot(t)
	requirePing(t)
	node := newNetNS(t, "masq-node")
	ext := newNetNS(t, "masq-ext")
	pod := newNetNS(t, "masq-pod")

	// node 192.168.78.1/24 <-> ext 192.168.78.2/24; ext knows nothing of
	// 10.88.0.0/16, so an unmasqueraded pod packet gets no reply.
	hn, he := handle(t, node), handle(t, ext)
	extFd, err := openNetNS(ext)
	if err != nil {
		t.Fatal(err)
	}
	defer extFd.Close()
	if err := hn.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink0"}, PeerName: "uplink0", PeerNamespace: netlink.NsFd(extFd)}); err != nil {
		t.Fatal(err)
	}
	for i, h := range []*netlink.Handle{hn, he} {
		l, err := h.LinkByName("uplink0")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(192, 168, 78, byte(i+1)), Mask: net.CIDRMask(24, 32)}}); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}

	// The test process's own namespace may hold a table of this name (a
	// `skiff up` on this machine made it): whatever is there must be
	// there, unchanged, at the end.
	ownBefore := ownMasqTable(t)
	n := setup(t, nodeConfig(t, node, "10.88.5.0/24"))
	if _, err := n.Attach(context.Background(), testPodPrefix+"masq", pod); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Detach(context.Background(), testPodPrefix+"masq", pod) })
	outside := mustAddr("192.168.78.2")

	if _, err := inNS(pod, "/bin/busybox", "ping", "-c1", "-W1", outside.String()); err == nil {
		t.Fatal("pod reached the outside host without masquerade: the test network is wrong")
	}
	for range 2 {
		if err := n.EnsureMasquerade(); err != nil {
			t.Fatal(err)
		}
	}
	cidr, ok, err := MasqueradeCIDR(node)
	if err != nil || !ok || cidr != mustPrefix("10.88.0.0/16") {
		t.Fatalf("MasqueradeCIDR = %v %v %v, want 10.88.0.0/16", cidr, ok, err)
	}
	if err := ping(pod, outside); err != nil {
		t.Fatalf("with masquerade: %v", err)
	}
	// The test process's namespace is left alone. (Asked from this
	// thread, not through /proc/self: in a test binary the main thread may
	// have been left inside a namespace newNetNS made.)
	if got := ownMasqTable(t); got != ownBefore {
		t.Fatalf("the test process's own netns changed: masquerade table %s, was %s", got, ownBefore)
	}

	if err := n.RemoveMasquerade(); err != nil {
		t.Fatal(err)
	}
	if err := n.RemoveMasquerade(); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, ok, _ := MasqueradeCIDR(node); ok {
		t.Fatal("table still there after RemoveMasquerade")
	}
	if got := ownMasqTable(t); got != ownBefore {
		t.Fatalf("RemoveMasquerade changed the test process's own netns: masquerade table %s, was %s", got, ownBefore)
	}
}

// ownMasqTable describes skiff's table in the calling thread's network
// namespace: "absent", or its chains and their rule handles (what
// EnsureMasquerade would replace).
func ownMasqTable(t *testing.T) string {
	t.Helper()
	c := &nftables.Conn{}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name != MasqTable {
			continue
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("present:")
		for _, ch := range chains {
			if ch.Table.Name != MasqTable {
				continue
			}
			rules, err := c.GetRules(tb, ch)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, " chain %s rules", ch.Name)
			for _, r := range rules {
				fmt.Fprintf(&b, " %d", r.Handle)
			}
		}
		return b.String()
	}
	return "absent"
}
