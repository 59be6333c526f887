package dnsserver

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

type discardWriter struct{}

func (discardWriter) write(*request, []byte) {}

// BenchmarkServeA measures the hot path without sockets: parse a query for
// a service of 10 pods, run the chain, produce the answer.
func BenchmarkServeA(b *testing.B) {
	mb := NewMemoryBackend()
	for i := 0; i < 1000; i++ {
		var e []Endpoint
		for j := 0; j < 10; j++ {
			k := i*10 + j + 1
			e = append(e, Endpoint{IP: netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)})})
		}
		mb.SetService(Service{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i), Endpoints: e})
	}
	s, err := New(Config{Backend: mb, Upstreams: []string{}, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	s.zone.buildAll()
	m := new(dns.Msg)
	m.SetQuestion("svc-42.bench.svc.cluster.local.", dns.TypeA)
	q, _ := m.Pack()
	r := &request{out: make([]byte, 0, 4096)}
	remote := netip.MustParseAddrPort("127.0.0.1:5353")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.parse(q, protoUDP, remote)
		s.handler.serveDNS(ctx, discardWriter{}, r)
	}
}
