package dnsserver

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// Why parse by hand: the hot path needs the ID, the question and the EDNS
// options, nothing else, and must not allocate. miekg's Unpack builds a
// whole Msg; it is still used for everything that is not on the hot path.

// Sizes from RFC 1035 and RFC 6891.
const (
	headerLen    = 12
	maxNameWire  = 255  // a name in wire format, root label included
	maxUDPPlain  = 512  // a UDP answer without EDNS0
	maxUDPEDNS   = 4096 // the most we send over UDP, whatever a client offers
	ourEDNSSize  = 1232 // what we advertise (the DNS flag day 2020 figure)
	maxTCPLength = 65535
)

var (
	// errDrop marks a packet that gets no answer at all: too short to
	// carry an ID, or itself a response (answering those invites loops).
	errDrop = errors.New("dnsserver: not a query")
	// errFormat marks a query that gets FORMERR.
	errFormat = errors.New("dnsserver: malformed query")
)

// transport is the transport a request came on.
type transport uint8

const (
	protoUDP transport = iota
	protoTCP
)

func (p transport) String() string {
	if p == protoTCP {
		return "tcp"
	}
	return "udp"
}

// request is a parsed query. The serving loops reuse one per worker: a
// handler that answers after ServeDNS returns must take a clone.
type request struct {
	wire []byte // the query as received
	id   uint16
	// flags is the second 16-bit word of the header (QR, opcode, RD, CD…).
	flags  uint16
	opcode uint8
	qdEnd  int    // offset just past the question; 0 when there is none
	qname  []byte // the question name as sent, a slice of wire
	key    []byte // qname in lower case: the zone's and the cache's key
	qtype  uint16
	qclass uint16

	edns        bool
	ednsVersion uint8
	udpSize     uint16
	do          bool

	transport transport
	remote    netip.AddrPort
	start     time.Time
	err       error // errFormat when the question or EDNS was unreadable

	keyBuf [maxNameWire]byte
	out    []byte // scratch for building the answer
}

func (r *request) rd() bool { return r.flags&0x0100 != 0 }
func (r *request) cd() bool { return r.flags&0x0010 != 0 }

// maxSize is the largest answer the client accepts on this transport.
func (r *request) maxSize() int {
	if r.transport == protoTCP {
		return maxTCPLength
	}
	if !r.edns || r.udpSize <= maxUDPPlain {
		return maxUDPPlain
	}
	return int(min(r.udpSize, maxUDPEDNS))
}

// parse reads b into r. It returns errDrop for packets that get no answer;
// a malformed question or EDNS part leaves r.err = errFormat and returns
// nil, so that the guard can answer FORMERR with the ID.
func (r *request) parse(b []byte, p transport, remote netip.AddrPort) error {
	*r = request{out: r.out[:0], transport: p, remote: remote, wire: b, start: time.Now()}
	if len(b) < headerLen {
		return errDrop
	}
	r.id = binary.BigEndian.Uint16(b)
	r.flags = binary.BigEndian.Uint16(b[2:])
	if r.flags&0x8000 != 0 {
		return errDrop
	}
	r.opcode = uint8(r.flags>>11) & 0xF
	qd := binary.BigEndian.Uint16(b[4:])
	if qd != 1 {
		r.err = errFormat
		return nil
	}
	off, ok := r.parseQuestion(b)
	if !ok {
		r.err = errFormat
		return nil
	}
	r.qdEnd = off
	rest := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	if !r.parseRecords(b, off, rest, ar) {
		r.err = errFormat
	}
	return nil
}

// parseQuestion reads the one question. Compression pointers are refused:
// the question is the first name in the message, so a pointer there can
// only point into the header or forward, which no sane client sends.
func (r *request) parseQuestion(b []byte) (int, bool) {
	off := headerLen
	n := 0
	for {
		if off >= len(b) {
			return 0, false
		}
		l := int(b[off])
		if l&0xC0 != 0 {
			return 0, false
		}
		if off+1+l > len(b) || n+1+l > maxNameWire {
			return 0, false
		}
		r.keyBuf[n] = byte(l)
		for i := 1; i <= l; i++ {
			c := b[off+i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			r.keyBuf[n+i] = c
		}
		n += 1 + l
		off += 1 + l
		if l == 0 {
			break
		}
	}
	if off+4 > len(b) {
		return 0, false
	}
	r.qname = b[headerLen:off]
	r.key = r.keyBuf[:n]
	r.qtype = binary.BigEndian.Uint16(b[off:])
	r.qclass = binary.BigEndian.Uint16(b[off+2:])
	return off + 4, true
}

// parseRecords skips the answer and authority records a query may carry
// and reads the OPT record among the additional ones. Each record takes at
// least 11 bytes, so the loop is bounded by the packet's length whatever
// the counts claim.
func (r *request) parseRecords(b []byte, off, skip, additional int) bool {
	for i := 0; i < skip+additional; i++ {
		if off >= len(b) {
			return false
		}
		nameEnd, ok := skipName(b, off)
		if !ok || nameEnd+10 > len(b) {
			return false
		}
		typ := binary.BigEndian.Uint16(b[nameEnd:])
		rdlen := int(binary.BigEndian.Uint16(b[nameEnd+8:]))
		end := nameEnd + 10 + rdlen
		if end > len(b) {
			return false
		}
		if i >= skip && typ == 41 { // OPT
			if r.edns || nameEnd != off+1 { // twice, or not at the root
				return false
			}
			r.edns = true
			r.udpSize = binary.BigEndian.Uint16(b[nameEnd+2:])
			r.ednsVersion = b[nameEnd+5]
			r.do = b[nameEnd+6]&0x80 != 0
		}
		off = end
	}
	return true
}

// skipName returns the offset past a name without following pointers (a
// pointer ends a name), so a compression loop costs nothing.
func skipName(b []byte, off int) (int, bool) {
	for n := 0; off < len(b); n++ {
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 == 0xC0:
			return off + 2, off+2 <= len(b)
		case l&0xC0 != 0 || n > 127:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}

// clone copies what a handler needs to answer after ServeDNS returned.
func (r *request) clone() *request {
	c := &request{}
	*c = *r
	c.wire = append([]byte(nil), r.wire...)
	if r.qdEnd > 0 {
		c.qname = c.wire[headerLen : headerLen+len(r.qname)]
		c.key = c.keyBuf[:len(r.key)]
	}
	c.out = nil
	return c
}
