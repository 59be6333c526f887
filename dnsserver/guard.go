package dnsserver

import (
	"context"

	"github.com/miekg/dns"
)

// guard answers what no later handler should see: malformed queries
// (FORMERR), other opcodes (NOTIMP), unknown EDNS versions (BADVERS),
// other classes and zone transfers (REFUSED). Everything after it can
// assume one IN question of an ordinary type.
type guard struct{ next handler }

func (h *guard) name() string { return "guard" }

func (h *guard) serveDNS(ctx context.Context, w responseWriter, r *request) {
	switch {
	case r.err != nil:
		w.write(r, r.simpleAnswer(dns.RcodeFormatError, false, nil))
	case r.opcode != dns.OpcodeQuery:
		w.write(r, r.simpleAnswer(dns.RcodeNotImplemented, false, nil))
	case r.edns && r.ednsVersion != 0:
		w.write(r, r.simpleAnswer(dns.RcodeBadVers, false, nil))
	case r.qclass != dns.ClassINET:
		w.write(r, r.simpleAnswer(dns.RcodeRefused, false, nil))
	case r.qtype == dns.TypeAXFR || r.qtype == dns.TypeIXFR || r.qtype == dns.TypeOPT ||
		r.qtype == dns.TypeTSIG || r.qtype == dns.TypeTKEY || r.qtype == dns.TypeMAILA || r.qtype == dns.TypeMAILB:
		w.write(r, r.simpleAnswer(dns.RcodeRefused, false, nil))
	default:
		h.next.serveDNS(ctx, w, r)
	}
}

// anyHandler answers every ANY query the way RFC 8482 allows and CoreDNS's
// "any" plugin does: one synthesized HINFO record, never the full set and
// never forwarded, so ANY is no amplifier.
type anyHandler struct{ next handler }

func (h *anyHandler) name() string { return "any" }

// hinfoRR follows a question at offset 12: owner is a pointer to it.
var hinfoRR = []byte{
	0xC0, 0x0C, // owner: the question name
	0, 13, 0, 1, // HINFO IN
	0, 0, 0x21, 0x22, // TTL 8482
	0, 9, // rdlength
	7, 'R', 'F', 'C', '8', '4', '8', '2', // CPU
	0, // OS
}

func (h *anyHandler) serveDNS(ctx context.Context, w responseWriter, r *request) {
	if r.qtype != dns.TypeANY {
		h.next.serveDNS(ctx, w, r)
		return
	}
	out := r.appendHeader(r.out[:0], dns.RcodeSuccess, false)
	out = append(out, hinfoRR...)
	out[7] = 1 // one answer
	out = r.appendOPT(out, dns.RcodeSuccess)
	r.out = out
	w.write(r, out)
}
