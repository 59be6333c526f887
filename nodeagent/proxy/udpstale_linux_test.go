package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// inNS runs fn on a thread inside the namespace at path; sockets it makes
// stay there. The thread is never unlocked, so it dies with the goroutine.
func inNS(t *testing.T, path string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	must(t, <-errc)
}

// A UDP client on the node sending to a ClusterIP before the service has
// endpoints reaches the endpoint once there is one, from the same socket:
// its first, untranslated packets must not leave a conntrack entry that
// keeps the flow untranslated (every packet refreshing it).
func TestNodeUDPToServiceBeforeEndpoints(t *testing.T) {
	l := newLab(t, 1)
	t.Cleanup(func() { withConn(l.node, Remove) })
	var srv *net.UDPConn
	inNS(t, l.pods[0], func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 5353})
		return err
	})
	t.Cleanup(func() { srv.Close() })
	got := make(chan string, 16)
	go func() {
		buf := make([]byte, 64)
		for {
			n, _, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	p := ServicePort{Name: "default/dns:dns", ClusterIP: netip.MustParseAddr("10.96.0.50"), Protocol: protoUDP, Port: 53}
	l.program([]ServicePort{p})
	var cli *net.UDPConn
	inNS(t, l.node, func() (err error) {
		cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 96, 0, 50), Port: 53})
		return err
	})
	t.Cleanup(func() { cli.Close() })
	if _, err := cli.Write([]byte("early")); err != nil {
		t.Logf("early send: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	with := p
	with.Endpoints = []Endpoint{{l.podIP(0), 5353}}
	if err := withConn(l.node, func(c *nftables.Conn) error { _, err := Update(c, []ServicePort{p}, []ServicePort{with}); return err }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		cli.Write([]byte("late"))
		select {
		case m := <-got:
			if m == "late" {
				return
			}
		case <-time.After(250 * time.Millisecond):
		}
	}
	t.Fatal("the endpoint never got the node's datagrams sent after it appeared")
}

// A UDP flow from the node whose endpoint goes away moves to the one that
// replaced it: without clearing, conntrack keeps sending the same socket's
// datagrams to the old endpoint for as long as they keep coming.
func TestUDPFlowLeavesRemovedEndpoint(t *testing.T) {
	l := newLab(t, 2)
	t.Cleanup(func() { withConn(l.node, Remove) })
	got := make(chan string, 64)
	for i := range 2 {
		var srv *net.UDPConn
		inNS(t, l.pods[i], func() (err error) {
			srv, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 5353})
			return err
		})
		t.Cleanup(func() { srv.Close() })
		go func() {
			buf := make([]byte, 64)
			for {
				n, _, err := srv.ReadFromUDP(buf)
				if err != nil {
					return
				}
				got <- fmt.Sprintf("pod%d:%s", i, buf[:n])
			}
		}()
	}
	p := ServicePort{Name: "default/dns:dns", ClusterIP: netip.MustParseAddr("10.96.0.51"), Protocol: protoUDP, Port: 53}
	onPod0, onPod1 := p, p
	onPod0.Endpoints = []Endpoint{{l.podIP(0), 5353}}
	onPod1.Endpoints = []Endpoint{{l.podIP(1), 5353}}
	l.program([]ServicePort{onPod0})
	var cli *net.UDPConn
	inNS(t, l.node, func() (err error) {
		cli, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 96, 0, 51), Port: 53})
		return err
	})
	t.Cleanup(func() { cli.Close() })
	// receive sends msg until one arrives and says where it went.
	receive := func(msg string) string {
		t.Helper()
		for range 20 {
			cli.Write([]byte(msg))
			select {
			case m := <-got:
				if strings.HasSuffix(m, ":"+msg) {
					return strings.TrimSuffix(m, ":"+msg)
				}
			case <-time.After(250 * time.Millisecond):
			}
		}
		t.Fatalf("%q never arrived", msg)
		return ""
	}
	if at := receive("first"); at != "pod0" {
		t.Fatalf("first datagram went to %s, want pod0", at)
	}
	old := []ServicePort{onPod0}
	if err := withConn(l.node, func(c *nftables.Conn) error { _, err := Update(c, old, []ServicePort{onPod1}); return err }); err != nil {
		t.Fatal(err)
	}
	// The rules alone leave the flow where it was: what the clearing is for.
	if at := receive("pinned"); at != "pod0" {
		t.Fatalf("before clearing, the flow went to %s: the test no longer shows conntrack pinning it", at)
	}
	n, err := clearStaleUDP(l.node, old, []ServicePort{onPod1})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no conntrack entry was cleared")
	}
	if at := receive("moved"); at != "pod1" {
		t.Fatalf("after clearing, the flow went to %s, want pod1", at)
	}
}
