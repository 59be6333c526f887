package dnsserver

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// packed is one complete answer in wire format, for the canonical (lower
// case) question; request.packedAnswer adapts it to a query.
type packed struct {
	wire  []byte
	rcode int
	// The answer records at wire[rrOff:], rrN of them, each rrSize bytes
	// (A or AAAA with a compressed owner), can be rotated; rrN < 2 means no.
	rrOff, rrSize, rrN int
}

// pack builds the packed answer for (name, qtype).
func pack(name string, qtype uint16, answer, extra []dns.RR) (*packed, error) {
	m := &dns.Msg{
		MsgHdr:   dns.MsgHdr{Response: true, Authoritative: true, RecursionAvailable: true},
		Compress: true,
		Question: []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}},
		Answer:   answer,
		Extra:    extra,
	}
	wire, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack %s %s: %w", name, dns.TypeToString[qtype], err)
	}
	p := &packed{wire: wire}
	if len(extra) == 0 && len(answer) > 1 && (qtype == dns.TypeA || qtype == dns.TypeAAAA) {
		off := headerLen + len(name) + 1 + 4 // a presentation name of n bytes is n+1 in wire (no escapes here)
		if (len(wire)-off)%len(answer) == 0 {
			p.rrOff, p.rrSize, p.rrN = off, (len(wire)-off)/len(answer), len(answer)
		}
	}
	return p, nil
}

// dashed is the host label Kubernetes gives an address: 10-0-0-1, or
// fd00--1 for IPv6.
func dashed(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.String(), ":", "-")
}

func addrRR(name string, ip netip.Addr, ttl uint32) dns.RR {
	if ip.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: ip.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: ip.AsSlice()}
}

func addrType(ip netip.Addr) uint16 {
	if ip.Is4() {
		return dns.TypeA
	}
	return dns.TypeAAAA
}

// soaRR is the zone's SOA, packed on its own with an uncompressed owner so
// it can follow any question.
func soaRR(owner, domain string, ttl, serial uint32) (*dns.SOA, []byte, error) {
	soa := &dns.SOA{
		Hdr:     dns.RR_Header{Name: owner, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "ns.dns." + domain,
		Mbox:    "hostmaster." + domain,
		Serial:  serial,
		Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: ttl,
	}
	buf := make([]byte, dns.Len(soa)+64)
	n, err := dns.PackRR(soa, buf, 0, nil, false)
	if err != nil {
		return nil, nil, fmt.Errorf("pack SOA: %w", err)
	}
	return soa, buf[:n], nil
}

// wireKey is the zone key of a presentation name: wire format, lower case.
func wireKey(name string) string {
	buf := make([]byte, maxNameWire+1)
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf, 0, nil, false)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}
