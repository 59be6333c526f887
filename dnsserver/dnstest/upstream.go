package dnstest

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Upstream is a fake upstream resolver on 127.0.0.1 (UDP and TCP on one
// port). Answer decides each reply; a nil reply means silence, as from a
// dead server.
type Upstream struct {
	Addr    string
	Queries atomic.Int64
	answer  func(q *dns.Msg) *dns.Msg
}

// NewUpstream starts a fake upstream; it stops when the test ends.
func NewUpstream(t testing.TB, answer func(q *dns.Msg) *dns.Msg) *Upstream {
	t.Helper()
	u := &Upstream{answer: answer}
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: upstream: %v", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if try > 10 {
			t.Fatalf("dnstest: upstream tcp: %v", err)
		}
	}
	u.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		u.Queries.Add(1)
		if resp := u.answer(q); resp != nil {
			_ = w.WriteMsg(resp)
		}
	})
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return u
}

// Answering replies to every A query with addr, and NXDOMAIN to anything
// else.
func Answering(addr string) func(q *dns.Msg) *dns.Msg {
	return func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		if q.Question[0].Qtype == dns.TypeA {
			m.Answer = []dns.RR{RR(q.Question[0].Name + " 30 IN A " + addr)}
		} else {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{RR(". 30 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 30")}
		}
		return m
	}
}

// Silent never answers.
func Silent(*dns.Msg) *dns.Msg { return nil }
