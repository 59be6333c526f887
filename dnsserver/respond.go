package dnsserver

import "encoding/binary"

// Answers built straight in wire format, for the hot path and for the
// short negative answers (FORMERR, NXDOMAIN, NODATA, SERVFAIL).

const (
	flagQR = 0x8000
	flagAA = 0x0400
	flagTC = 0x0200
	flagRD = 0x0100
	flagRA = 0x0080
	flagCD = 0x0010
)

// responseFlags are the header flags of our answer to r.
func (r *request) responseFlags(rcode int, authoritative bool) uint16 {
	f := uint16(flagQR|flagRA) | uint16(r.opcode)<<11 | r.flags&(flagRD|flagCD) | uint16(rcode&0xF)
	if authoritative {
		f |= flagAA
	}
	return f
}

// appendHeader starts an answer to r in out: the ID, flags and the
// question (when r has a readable one). The record counts are zero.
func (r *request) appendHeader(out []byte, rcode int, authoritative bool) []byte {
	var qd uint16
	if r.qdEnd > 0 {
		qd = 1
	}
	out = binary.BigEndian.AppendUint16(out, r.id)
	out = binary.BigEndian.AppendUint16(out, r.responseFlags(rcode, authoritative))
	out = binary.BigEndian.AppendUint16(out, qd)
	out = append(out, 0, 0, 0, 0, 0, 0)
	if qd == 1 {
		out = append(out, r.wire[headerLen:r.qdEnd]...)
	}
	return out
}

// appendOPT adds our OPT record when the client sent one (RFC 6891 wants
// it echoed), with the extended rcode's upper bits.
func (r *request) appendOPT(out []byte, rcode int) []byte {
	if !r.edns {
		return out
	}
	out = append(out, 0, 0, 41, byte(ourEDNSSize>>8), byte(ourEDNSSize&0xFF), byte(rcode>>4), 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	return out
}

// simpleAnswer is an answer with no records but, optionally, one SOA in
// the authority section (negative answers, RFC 2308).
func (r *request) simpleAnswer(rcode int, authoritative bool, soa []byte) []byte {
	out := r.appendHeader(r.out[:0], rcode, authoritative)
	if soa != nil {
		out = append(out, soa...)
		binary.BigEndian.PutUint16(out[8:], 1)
	}
	out = r.appendOPT(out, rcode)
	r.out = out
	return out
}

// packedAnswer copies a pre-packed answer and makes it r's: ID, flags, and
// the question name as the client spelled it (mixed case included, as
// 0x20 randomisation needs). rot rotates equal-sized answer records so
// clients that take the first address spread over the pods.
func (r *request) packedAnswer(p *packed, rot int) []byte {
	out := append(r.out[:0], p.wire...)
	binary.BigEndian.PutUint16(out, r.id)
	binary.BigEndian.PutUint16(out[2:], r.responseFlags(p.rcode, true))
	copy(out[headerLen:], r.qname)
	if p.rrN > 1 {
		if k := rot % p.rrN; k != 0 {
			rotate(out[p.rrOff:p.rrOff+p.rrN*p.rrSize], k*p.rrSize)
		}
	}
	out = r.appendOPT(out, p.rcode)
	r.out = out
	return out
}

// rotate moves the first k bytes of b to its end, in place.
func rotate(b []byte, k int) {
	reverse(b[:k])
	reverse(b[k:])
	reverse(b)
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// rcodeOf reads the full rcode of an answer we built: the header's four
// bits plus the OPT's upper bits when our OPT (always last, 11 bytes) is
// there.
func rcodeOf(b []byte) int {
	if len(b) < headerLen {
		return 0
	}
	rc := int(b[3] & 0xF)
	if binary.BigEndian.Uint16(b[10:]) > 0 && len(b) >= headerLen+11 {
		opt := b[len(b)-11:]
		if opt[0] == 0 && opt[1] == 0 && opt[2] == 41 {
			rc |= int(opt[5]) << 4
		}
	}
	return rc
}
