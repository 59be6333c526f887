package dnsserver

import (
	"context"
	"errors"
	"net"

	"github.com/miekg/dns"
)

// udpWriter sends answers on the shared UDP socket; it holds no
// per-request state (the address is in the request), so a handler may keep
// it past serveDNS.
type udpWriter struct{ conn *net.UDPConn }

func (w *udpWriter) write(r *request, b []byte) {
	if len(b) > r.maxSize() {
		b = truncate(r, b)
	}
	_, _ = w.conn.WriteToUDPAddrPort(b, r.remote) // UDP: a lost answer is the client's retry
}

// truncate cuts an answer down to what the client accepts, setting TC so
// it asks again over TCP (RFC 2181 §9, RFC 6891 §7).
func truncate(r *request, b []byte) []byte {
	var m dns.Msg
	if err := m.Unpack(b); err == nil {
		m.Truncate(r.maxSize())
		if out, err := m.Pack(); err == nil && len(out) <= r.maxSize() {
			return out
		}
	}
	out := r.simpleAnswer(int(b[3]&0xF), b[2]&0x04 != 0, nil)
	out[2] |= flagTC >> 8
	return out
}

// serveUDP is one of the loops reading the UDP socket; each owns its
// buffers and request, so the hot path allocates nothing of its own.
func (s *Server) serveUDP(ctx context.Context, conn *net.UDPConn) error {
	buf := make([]byte, 65536)
	w := &udpWriter{conn: conn}
	r := &request{out: make([]byte, 0, 4096)}
	for {
		n, addr, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Debug("udp read", "err", err)
			continue
		}
		if r.parse(buf[:n], protoUDP, addr) != nil {
			continue
		}
		s.handler.serveDNS(ctx, w, r)
	}
}
