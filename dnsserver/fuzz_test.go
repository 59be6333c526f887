package dnsserver

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// captureWriter keeps what the chain answered, with the UDP writer's
// truncation.
type captureWriter struct {
	n    int
	last []byte
}

func (w *captureWriter) write(r *request, b []byte) {
	if len(b) > r.maxSize() {
		b = truncate(r, b)
	}
	w.n++
	w.last = append(w.last[:0], b...)
}

// FuzzServeDNS runs arbitrary packets through parsing and the whole chain
// (no upstreams: forwarding answers SERVFAIL at once). Every packet that is
// not dropped gets exactly one answer, which parses, carries the query's ID
// and fits the transport.
func FuzzServeDNS(f *testing.F) {
	for _, c := range clusterCases() {
		b, _ := c.Msg().Pack()
		f.Add(b)
	}
	for _, b := range [][]byte{
		{}, {0, 1}, header(7, 0, 0, 0, 0, 0), header(7, 0, 1, 0xFFFF, 0xFFFF, 0xFFFF),
		append(header(7, 0, 1, 0, 0, 0), 0xC0, 12, 0, 1, 0, 1),
		append(header(7, 0, 1, 0, 0, 1), 3, 'w', 'e', 'b', 0, 0, 1, 0, 1, 0, 0, 41, 16, 0, 0, 0, 0x80, 0, 0, 0),
	} {
		f.Add(b)
	}
	s, err := New(Config{Backend: clusterBackend(), Upstreams: []string{}, Listen: "127.0.0.1:0"})
	if err != nil {
		f.Fatal(err)
	}
	s.zone.buildAll()
	ctx := context.Background()
	remote := netip.MustParseAddrPort("127.0.0.1:5353")
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &request{}
		for _, tr := range []transport{protoUDP, protoTCP} {
			if r.parse(data, tr, remote) != nil {
				return
			}
			w := &captureWriter{}
			s.handler.serveDNS(ctx, w, r)
			if w.n != 1 {
				t.Fatalf("%s: %d answers, want 1", tr, w.n)
			}
			var m dns.Msg
			if err := m.Unpack(w.last); err != nil {
				t.Fatalf("%s: answer %x does not parse: %v", tr, w.last, err)
			}
			if m.Id != r.id || !m.Response {
				t.Fatalf("%s: id %d response %v, want id %d", tr, m.Id, m.Response, r.id)
			}
			if len(w.last) > r.maxSize() {
				t.Fatalf("%s: %d bytes, more than the %d allowed", tr, len(w.last), r.maxSize())
			}
		}
	})
}
