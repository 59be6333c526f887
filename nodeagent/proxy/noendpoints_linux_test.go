package proxy

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
)

// A service port without endpoints refuses connections at once, from a
// pod and from the node, over TCP and UDP, as kube-proxy's reject rules
// do: the client hears "connection refused" instead of waiting out its
// timeout. It holds whether the port had no endpoints when the table was
// written or lost its last one in a partial update, and ends when an
// endpoint comes.
func TestServiceWithoutEndpointsRefuses(t *testing.T) {
	l := newLab(t, 2)
	t.Cleanup(func() { withConn(l.node, Remove) })
	l.serve(1)
	web := ServicePort{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.96.0.20"), Protocol: protoTCP, Port: 80}
	dns := ServicePort{Name: "default/dns:dns", ClusterIP: netip.MustParseAddr("10.96.0.21"), Protocol: protoUDP, Port: 53}
	l.program([]ServicePort{web, dns})

	for _, from := range []struct{ name, ns string }{{"pod", l.pods[0]}, {"node", l.node}} {
		if err := dialTCP(t, from.ns, "10.96.0.20:80"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("TCP from the %s to a service without endpoints: %v, want connection refused", from.name, err)
		}
		// The node's own datagram is refused in its output hook, before
		// it leaves: the send itself fails (EPERM), as for any packet
		// netfilter turns away there.
		want := syscall.ECONNREFUSED
		if from.ns == l.node {
			want = syscall.EPERM
		}
		if err := exchangeUDP(t, from.ns, "10.96.0.21:53"); !errors.Is(err, want) {
			t.Errorf("UDP from the %s to a service without endpoints: %v, want %v", from.name, err, want)
		}
	}

	// An endpoint comes: the same port answers.
	withEP := web
	withEP.Endpoints = []Endpoint{{l.podIP(1), 8080}}
	update(t, l, []ServicePort{web, dns}, []ServicePort{withEP, dns})
	if err := dialTCP(t, l.pods[0], "10.96.0.20:80"); err != nil {
		t.Fatalf("after its endpoint came: %v", err)
	}
	// And goes, in a partial update: refused again.
	update(t, l, []ServicePort{withEP, dns}, []ServicePort{web, dns})
	if err := dialTCP(t, l.pods[0], "10.96.0.20:80"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("after its last endpoint went: %v, want connection refused", err)
	}
}

func update(t *testing.T, l *lab, old, next []ServicePort) {
	t.Helper()
	if err := withConn(l.node, func(c *nftables.Conn) error {
		partial, err := Update(c, old, next)
		if err == nil && !partial {
			t.Error("the update rewrote the whole table")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// dialTCP connects from the namespace ns to addr and closes; the error is
// the connect's. The timeout only bounds a broken test: a refusal comes
// back at once.
func dialTCP(t *testing.T, ns, addr string) error {
	var dialErr error
	inNS(t, ns, func() error {
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err == nil {
			c.Close()
		}
		dialErr = err
		return nil
	})
	return dialErr
}

// exchangeUDP sends a datagram from ns to addr and waits for an answer;
// the error is the read's (an ICMP refusal arrives as ECONNREFUSED).
func exchangeUDP(t *testing.T, ns, addr string) error {
	var readErr error
	inNS(t, ns, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte("query")); err != nil {
			readErr = err
			return nil
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, readErr = c.Read(make([]byte, 16))
		return nil
	})
	return readErr
}
