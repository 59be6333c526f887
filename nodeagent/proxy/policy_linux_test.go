package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
		Endpoints: []Endpoint{local, remote}, ExternalLocal: true, ExternalEndpoints: []Endpoint{local},
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
	svc.ExternalEndpoints = nil
	if err := withConn(l.node, func(c *nftables.Conn) error { _, err := Update(c, before, []ServicePort{svc}); return err }); err != nil {
		t.Fatal(err)
	}
	if out, err := l.get(client, "http://10.78.0.1:30090/"); err == nil {
		t.Fatalf("a node without a local endpoint answered the node port: %s", out)
	}
	if got := l.counts(l.node, "http://10.78.0.1:30090/", 5); len(got) == 0 {
		t.Fatal("the node itself lost the service")
	}

	// internalTrafficPolicy Local, external Cluster: the ClusterIP reaches
	// only this node's endpoint, the node port every endpoint.
	itp := ServicePort{Name: "default/itp:http", ClusterIP: netip.MustParseAddr("10.96.0.31"), Protocol: protoTCP, Port: 80, NodePort: 30091,
		Endpoints: []Endpoint{local}, InternalLocal: true, ExternalEndpoints: []Endpoint{local, remote}}
	cur := []ServicePort{svc}
	if err := withConn(l.node, func(c *nftables.Conn) error { _, err := Update(c, cur, []ServicePort{svc, itp}); return err }); err != nil {
		t.Fatal(err)
	}
	if got := l.counts(l.pods[0], "http://10.96.0.31/", 10); got["pod1"] != 10 {
		t.Fatalf("internal Local ClusterIP: %v; want all at pod1", got)
	}
	if got := l.counts(client, "http://10.78.0.1:30091/", 30); len(got) != 2 {
		t.Fatalf("its node port from outside: %v; want both endpoints", got)
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

// Services added, removed and changed in shape are applied incrementally
// (no table rewrite), and the table ends as Program would have made it;
// traffic follows each step.
func TestIncrementalUpdateInNetNS(t *testing.T) {
	l := newLab(t, 3)
	for i := 1; i < 3; i++ {
		l.serve(i)
	}
	e1, e2 := Endpoint{l.podIP(1), 8080}, Endpoint{l.podIP(2), 8080}
	a := ServicePort{Name: "default/a:http", ClusterIP: netip.MustParseAddr("10.96.0.40"), Protocol: protoTCP, Port: 80, NodePort: 30100, Endpoints: []Endpoint{e1, e2}}
	b := ServicePort{Name: "default/b:http", ClusterIP: netip.MustParseAddr("10.96.0.41"), Protocol: protoTCP, Port: 80, Endpoints: []Endpoint{e2}}
	l.program([]ServicePort{a})
	t.Cleanup(func() { withConn(l.node, Remove) })
	cur := []ServicePort{a}
	step := func(what string, next []ServicePort) {
		t.Helper()
		if err := withConn(l.node, func(c *nftables.Conn) error {
			partial, err := Update(c, cur, next)
			if err == nil && !partial {
				t.Errorf("%s: the whole table was rewritten", what)
			}
			return err
		}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		cur = next
		got := l.nftLines()
		l.program(next)
		if want := l.nftLines(); got != want {
			t.Fatalf("%s: the table after Update:\n%s\ndiffers from Program's:\n%s", what, got, want)
		}
	}
	step("b added", []ServicePort{a, b})
	if got := l.counts(l.pods[0], "http://10.96.0.41/", 3); got["pod2"] != 3 {
		t.Fatalf("b: %v", got)
	}
	if got := l.counts(l.pods[0], "http://10.77.0.1:30100/", 3); len(got) == 0 {
		t.Fatal("a's node port lost")
	}
	b2 := b
	b2.AffinityTimeout, b2.NodePort, b2.ExternalLocal, b2.ExternalEndpoints = 60, 30101, true, []Endpoint{e2}
	step("b with affinity and a Local node port", []ServicePort{a, b2})
	if got := l.counts(l.pods[0], "http://10.77.0.1:30101/", 3); got["pod2"] != 3 {
		t.Fatalf("b's node port: %v", got)
	}
	a2 := a
	a2.Endpoints = nil
	step("a without endpoints", []ServicePort{a2, b2})
	if out, err := l.get(l.pods[0], "http://10.96.0.40/"); err == nil {
		t.Fatalf("a without endpoints answered: %s", out)
	}
	step("a removed, b back to plain", []ServicePort{b})
	if got := l.counts(l.pods[0], "http://10.96.0.41/", 3); got["pod2"] != 3 {
		t.Fatalf("b: %v", got)
	}
	step("a back", []ServicePort{a, b})
	if got := l.counts(l.pods[0], "http://10.96.0.40/", 20); len(got) != 2 {
		t.Fatalf("a: %v", got)
	}
}

// nftLines describes the proxy table through netlink, one sorted line per
// chain (with its rule count), named set and verdict map entry. (The nft
// command cannot print the concatenations the packet path loads.)
func (l *lab) nftLines() string {
	l.t.Helper()
	var lines []string
	err := withConn(l.node, func(c *nftables.Conn) error {
		t := &nftables.Table{Name: Table, Family: nftables.TableFamilyIPv4}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Table.Name != Table {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return err
			}
			lines = append(lines, fmt.Sprintf("chain %s: %d rules", ch.Name, len(rules)))
		}
		sets, err := c.GetSets(t)
		if err != nil {
			return err
		}
		for _, s := range sets {
			if s.Anonymous {
				continue
			}
			lines = append(lines, fmt.Sprintf("set %s timeout %v", s.Name, s.Timeout))
			if s.Name != mapServiceIPs && s.Name != mapNodePorts {
				continue
			}
			elems, err := c.GetSetElements(s)
			if err != nil {
				return err
			}
			for _, e := range elems {
				to := fmt.Sprintf("%x", e.Val)
				if e.VerdictData != nil {
					to = e.VerdictData.Chain
				}
				lines = append(lines, fmt.Sprintf("%s %x → %s", s.Name, e.Key, to))
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("listing the table: %v", err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
