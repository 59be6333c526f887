package dnsserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rawExchange sends bytes over UDP and returns the answer, or nil when
// none comes within wait.
func rawExchange(t *testing.T, addr string, b []byte, wait time.Duration) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	n, err := conn.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func header(id, flags, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	for i, v := range []uint16{id, flags, qd, an, ns, ar} {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return b
}

func TestBadInput(t *testing.T) {
	ts := startServer(t, Config{Backend: clusterBackend()})
	q := func(name string) []byte { // a well-formed question
		m := query(name, dns.TypeA)
		m.Id = 7
		b, _ := m.Pack()
		return b
	}
	long := make([]byte, 0, 300)
	for i := 0; i < 5; i++ { // 5 labels of 63: 320 bytes, over 255
		long = append(long, 63)
		for j := 0; j < 63; j++ {
			long = append(long, 'a')
		}
	}
	long = append(long, 0, 0, 1, 0, 1)

	cases := []struct {
		name  string
		pkt   []byte
		rcode int // -1: no answer at all
	}{
		{"empty", nil, -1},
		{"short", []byte{1, 2, 3}, -1},
		{"a response", append(header(7, 0x8000, 1, 0, 0, 0), q("x.")[12:]...), -1},
		{"no question", header(7, 0, 0, 0, 0, 0), dns.RcodeFormatError},
		{"two questions", append(append(header(7, 0, 2, 0, 0, 0), q("a.")[12:]...), q("b.")[12:]...), dns.RcodeFormatError},
		{"truncated question", header(7, 0, 1, 0, 0, 0)[:12+0], dns.RcodeFormatError},
		{"name runs off the end", append(header(7, 0, 1, 0, 0, 0), 5, 'a', 'b'), dns.RcodeFormatError},
		{"over-long name", append(header(7, 0, 1, 0, 0, 0), long...), dns.RcodeFormatError},
		{"pointer loop in question", append(header(7, 0, 1, 0, 0, 0), 0xC0, 12, 0, 1, 0, 1), dns.RcodeFormatError},
		{"pointer loop in additional", append(append(header(7, 0, 1, 0, 0, 1), q("web.default.svc.cluster.local.")[12:]...),
			0xC0, 0x2F, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0), dns.RcodeSuccess},
		{"counts lie", append(header(7, 0, 1, 0xFFFF, 0xFFFF, 0xFFFF), q("x.")[12:]...), dns.RcodeFormatError},
		{"notify opcode", append(header(7, 4<<11, 1, 0, 0, 0), q("x.")[12:]...), dns.RcodeNotImplemented},
		{"chaos class", append(header(7, 0, 1, 0, 0, 0), 7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 4, 'b', 'i', 'n', 'd', 0, 0, 16, 0, 3), dns.RcodeRefused},
		{"axfr", append(header(7, 0, 1, 0, 0, 0), 7, 'c', 'l', 'u', 's', 't', 'e', 'r', 5, 'l', 'o', 'c', 'a', 'l', 0, 0, 252, 0, 1), dns.RcodeRefused},
		{"edns version 1", append(append(header(7, 0, 1, 0, 0, 1), q("x.")[12:]...), 0, 0, 41, 4, 0, 0, 1, 0, 0, 0, 0), dns.RcodeBadVers},
		{"two OPTs", append(append(header(7, 0, 1, 0, 0, 2), q("x.")[12:]...), 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0), dns.RcodeFormatError},
	}
	for _, c := range cases {
		got := rawExchange(t, ts.addr, c.pkt, 300*time.Millisecond)
		switch {
		case c.rcode < 0 && got != nil:
			t.Errorf("%s: answered %x, want silence", c.name, got)
		case c.rcode >= 0 && got == nil:
			t.Errorf("%s: no answer, want %s", c.name, dns.RcodeToString[c.rcode])
		case c.rcode >= 0:
			var m dns.Msg
			if err := m.Unpack(got); err != nil {
				t.Errorf("%s: answer does not parse: %v", c.name, err)
				continue
			}
			if m.Id != 7 || m.Rcode != c.rcode {
				t.Errorf("%s: id %d rcode %s, want 7 %s", c.name, m.Id, dns.RcodeToString[m.Rcode], dns.RcodeToString[c.rcode])
			}
		}
	}
	// And the server still answers.
	if resp := ts.exchange(t, query("web.default.svc.cluster.local.", dns.TypeA), "udp"); len(resp.Answer) != 2 {
		t.Fatalf("after bad input: %v", resp)
	}
}

// Garbage over TCP ends that connection, not the server.
func TestBadTCPFrame(t *testing.T) {
	ts := startServer(t, Config{Backend: clusterBackend()})
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte{0, 3, 1, 2, 3})
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := conn.Read(make([]byte, 10)); err == nil {
		t.Fatalf("read %d bytes after a bad frame, want the connection closed", n)
	}
	if resp := ts.exchange(t, query("web.default.svc.cluster.local.", dns.TypeA), "tcp"); len(resp.Answer) != 2 {
		t.Fatalf("after bad frame: %v", resp)
	}
}

// A steady stream of garbage (about 20k packets a second, more than
// real clients send) does not stop good queries.
func TestGarbageFlood(t *testing.T) {
	ts := startServer(t, Config{Backend: clusterBackend()})
	conn, err := net.Dial("udp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pkts := [][]byte{{1}, header(1, 0, 1, 0xFFFF, 0xFFFF, 0xFFFF), append(header(1, 0, 1, 0, 0, 0), 0xC0, 12, 0, 1, 0, 1)}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for j := 0; j < 20; j, i = j+1, i+1 {
				_, _ = conn.Write(pkts[i%len(pkts)])
			}
		}
	}()
	// Every good query is still answered, correctly, within the client's
	// timeout. (How fast is the benchmark's business: a timing bound here
	// would fail on a busy machine.)
	deadline := time.Now().Add(500 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(query("web.default.svc.cluster.local.", dns.TypeA), ts.addr)
		if err != nil {
			t.Fatalf("query %d during flood: %v", n, err)
		}
		if len(resp.Answer) != 2 {
			t.Fatalf("query %d during flood: %v", n, resp)
		}
	}
	close(stop)
	<-done
}

func TestTruncation(t *testing.T) {
	b := NewMemoryBackend()
	var many []Endpoint
	for i := 1; i <= 60; i++ { // 60 × 16 bytes of A records: over 512
		many = append(many, Endpoint{IP: ip(fmt.Sprintf("10.3.0.%d", i))})
	}
	b.SetService(Service{Namespace: "ns", Name: "big", Ports: []Port{{Name: "http", Protocol: "tcp", Port: 80}}, Endpoints: many})
	ts := startServer(t, Config{Backend: b})
	name := "big.ns.svc.cluster.local."

	// ask sends m over UDP and returns the answer and its size on the wire.
	ask := func(m *dns.Msg) (*dns.Msg, int) {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		raw := rawExchange(t, ts.addr, b, 2*time.Second)
		if raw == nil {
			t.Fatalf("%s: no answer", m.Question[0].Name)
		}
		var resp dns.Msg
		if err := resp.Unpack(raw); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		return &resp, len(raw)
	}
	resp, n := ask(query(name, dns.TypeA))
	if !resp.Truncated || n > 512 {
		t.Errorf("plain UDP: TC=%v len=%d, want TC and ≤512", resp.Truncated, n)
	}
	edns := query(name, dns.TypeA)
	edns.SetEdns0(4096, false)
	resp, n = ask(edns)
	if resp.Truncated || len(resp.Answer) != 60 || resp.IsEdns0() == nil || n > 4096 {
		t.Errorf("EDNS 4096: TC=%v answers=%d opt=%v len=%d", resp.Truncated, len(resp.Answer), resp.IsEdns0() != nil, n)
	}
	srv := query("_http._tcp."+name, dns.TypeSRV)
	srv.SetEdns0(1232, false)
	resp, n = ask(srv)
	if !resp.Truncated || n > 1232 || resp.IsEdns0() == nil {
		t.Errorf("SRV EDNS 1232: TC=%v len=%d", resp.Truncated, n)
	}
	if resp := ts.exchange(t, query(name, dns.TypeA), "tcp"); resp.Truncated || len(resp.Answer) != 60 {
		t.Errorf("TCP: TC=%v answers=%d", resp.Truncated, len(resp.Answer))
	}
}
