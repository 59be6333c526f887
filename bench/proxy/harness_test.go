package proxy

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/nodeagent/proxy"
)

var (
	connsFlag = flag.Int("conns", 2000, "connections per measured configuration")
	syncsFlag = flag.Int("syncs", 20, "table rewrites per service count")
)

// lab: a node namespace with a bridge, a client pod and a backend pod.
type lab struct {
	node, client, backend string
}

func newLab(tb testing.TB) *lab {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: network namespaces, nftables")
	}
	l := &lab{node: netNS(tb, "node"), client: netNS(tb, "client"), backend: netNS(tb, "backend")}
	h := handle(tb, l.node)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br-b"}}
	must(tb, h.LinkAdd(br))
	must(tb, h.AddrAdd(br, &netlink.Addr{IPNet: ipNet("10.77.0.1/24")}))
	must(tb, h.LinkSetUp(br))
	_, svcNet, _ := net.ParseCIDR("10.96.0.0/12")
	must(tb, h.RouteAdd(&netlink.Route{Dst: svcNet, Type: unix.RTN_BLACKHOLE}))
	inNS(tb, l.node, func() { must(tb, os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)) })
	for i, p := range []string{l.client, l.backend} {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		must(tb, err)
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("vb%d", i), MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: netlink.NsFd(fd)}
		err = h.LinkAdd(v)
		unix.Close(fd)
		must(tb, err)
		host, _ := h.LinkByName(v.Name)
		must(tb, h.LinkSetUp(host))
		ph := handle(tb, p)
		eth, err := ph.LinkByName("eth0")
		must(tb, err)
		must(tb, ph.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(fmt.Sprintf("10.77.0.%d/24", 10+i))}))
		must(tb, ph.LinkSetUp(eth))
		lo, _ := ph.LinkByName("lo")
		must(tb, ph.LinkSetUp(lo))
		must(tb, ph.RouteAdd(&netlink.Route{Gw: net.ParseIP("10.77.0.1"), LinkIndex: eth.Attrs().Index}))
	}
	return l
}

var backendIP = netip.MustParseAddr("10.77.0.11")

// services makes n service ports of 10 endpoints each; the last one's
// endpoints are all the backend pod, the others' addresses nobody has.
func services(n int) []proxy.ServicePort {
	out := make([]proxy.ServicePort, n)
	for i := range out {
		eps := make([]proxy.Endpoint, 10)
		for j := range eps {
			eps[j] = proxy.Endpoint{IP: netip.AddrFrom4([4]byte{10, 88, byte(i >> 8), byte(j)}), Port: 8080}
			if i == n-1 {
				eps[j] = proxy.Endpoint{IP: backendIP, Port: uint16(8080)}
			}
		}
		out[i] = proxy.ServicePort{Name: fmt.Sprintf("default/svc-%d:http", i), ClusterIP: clusterIP(i), Protocol: unix.IPPROTO_TCP, Port: 80, Endpoints: eps}
	}
	return out
}

func clusterIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)}) }

func conn(tb testing.TB, ns string) *nftables.Conn {
	fd, err := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	must(tb, err)
	tb.Cleanup(func() { unix.Close(fd) })
	c, err := proxy.NewConn(fd)
	must(tb, err)
	return c
}

// linearTable is the iptables-mode shape: a chain with one rule per
// service (ip daddr . dport compared in turn), each jumping to a chain
// that DNATs, plus the same masquerade.
func linearTable(tb testing.TB, c *nftables.Conn, ports []proxy.ServicePort) {
	t := &nftables.Table{Name: "bench-linear", Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	svcs := c.AddChain(&nftables.Chain{Name: "services", Table: t})
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "services"}}})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: backendIP.AsSlice()},
		&expr.Masq{},
	}})
	for i, p := range ports {
		name := fmt.Sprintf("svc-%d", i)
		ch := c.AddChain(&nftables.Chain{Name: name, Table: t})
		e := p.Endpoints[0]
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Immediate{Register: 1, Data: e.IP.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(e.Port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		}})
		c.AddRule(&nftables.Rule{Table: t, Chain: svcs, Exprs: []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.ClusterIP.AsSlice()},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.Port)},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: name},
		}})
	}
	must(tb, c.Flush())
}

func dropTable(tb testing.TB, c *nftables.Conn, name string) {
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	must(tb, c.Flush())
}

// serve accepts and closes connections on the backend's :8080 until the
// test ends.
func serve(tb testing.TB, l *lab) {
	var ln net.Listener
	inNS(tb, l.backend, func() {
		var err error
		ln, err = net.Listen("tcp", backendIP.String()+":8080")
		must(tb, err)
	})
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// connectTimes opens n connections from the client pod to addr and
// returns each connect's duration, sorted.
func connectTimes(tb testing.TB, l *lab, addr string, n int) []time.Duration {
	var out []time.Duration
	inNS(tb, l.client, func() {
		for i := 0; i < n; i++ {
			start := time.Now()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			d := time.Since(start)
			if err != nil {
				tb.Fatalf("connect %d to %s: %v", i, addr, err)
			}
			c.(*net.TCPConn).SetLinger(0) // RST: no TIME_WAIT pile-up
			c.Close()
			out = append(out, d)
		}
	})
	slices.Sort(out)
	return out
}

func pct(d []time.Duration, p float64) time.Duration { return d[min(len(d)-1, int(float64(len(d))*p))] }

// inNS runs fn on a thread in the namespace at path; sockets fn opens stay
// there. The thread is never returned to the pool.
func inNS(tb testing.TB, path string, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with us
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			tb.Error(err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			tb.Error(err)
			return
		}
		fn()
	}()
	<-done
}

func netNS(tb testing.TB, name string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "skiffbench-"+name)
	f, err := os.Create(path)
	must(tb, err)
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, "")
	}()
	must(tb, <-errc)
	tb.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
	return path
}

func handle(tb testing.TB, path string) *netlink.Handle {
	ns, err := netns.GetFromPath(path)
	must(tb, err)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	must(tb, err)
	tb.Cleanup(h.Close)
	return h
}

func ipNet(s string) *net.IPNet {
	ip, n, _ := net.ParseCIDR(s)
	n.IP = ip
	return n
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
