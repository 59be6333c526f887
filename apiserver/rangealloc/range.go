package rangealloc

import (
	"fmt"
	"net/netip"
	"sync"
)

// Range is a bitmap of the offsets [0, size) with a moving cursor, so that
// a value released is not handed out again at once (a client holding a
// stale DNS answer would reach the next service otherwise).
type Range struct {
	size int

	mu   sync.Mutex
	used []uint64
	free int
	next int
}

// New makes a range of size values, all free; the search starts at the
// first, so a fresh cluster's first service gets the first address.
func New(size int) *Range {
	return &Range{size: size, used: make([]uint64, (size+63)/64), free: size}
}

// Size is how many values the range has.
func (r *Range) Size() int { return r.size }

// Free is how many values are not marked.
func (r *Range) Free() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.free
}

// Candidate returns a value believed free, moving the cursor past it, or
// false when every value is marked. It does not mark it: the caller does
// once its claim in etcd succeeded.
func (r *Range) Candidate() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.free == 0 {
		return 0, false
	}
	for i := 0; i < r.size; {
		o := (r.next + i) % r.size
		if o%64 == 0 && o+64 <= r.size && r.used[o/64] == ^uint64(0) {
			i += 64 // a full word
			continue
		}
		if r.used[o/64]&(1<<(o%64)) == 0 {
			r.next = (o + 1) % r.size
			return o, true
		}
		i++
	}
	return 0, false
}

// Mark records offset o as taken; out-of-range offsets are ignored.
func (r *Range) Mark(o int) {
	if o < 0 || o >= r.size {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used[o/64]&(1<<(o%64)) == 0 {
		r.used[o/64] |= 1 << (o % 64)
		r.free--
	}
}

// Release records offset o as free.
func (r *Range) Release(o int) {
	if o < 0 || o >= r.size {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used[o/64]&(1<<(o%64)) != 0 {
		r.used[o/64] &^= 1 << (o % 64)
		r.free++
	}
}

// Has says whether offset o is marked.
func (r *Range) Has(o int) bool {
	if o < 0 || o >= r.size {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.used[o/64]&(1<<(o%64)) != 0
}

// Reset marks exactly the given offsets (a reload from etcd).
func (r *Range) Reset(offsets []int) {
	r.mu.Lock()
	clear(r.used)
	r.free = r.size
	r.mu.Unlock()
	for _, o := range offsets {
		r.Mark(o)
	}
}

// IPRange maps a prefix's usable addresses (all but the network and the
// broadcast address) to offsets of a Range.
type IPRange struct {
	Prefix netip.Prefix
	*Range
}

// NewIPRange makes the range of an IPv4 prefix of /8 to /30. Its search
// starts past the prefix's static band (see StaticBand), so that the
// addresses a cluster gives by convention (the DNS service's .10) stay free
// until the rest of the range is taken.
func NewIPRange(p netip.Prefix) (*IPRange, error) {
	p = p.Masked()
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 30 {
		return nil, fmt.Errorf("service CIDR %v: need an IPv4 prefix from /8 to /30", p)
	}
	r := &IPRange{Prefix: p, Range: New(1<<(32-p.Bits()) - 2)}
	r.next = StaticBand(p)
	return r, nil
}

// StaticBand is how many addresses at the start of a service CIDR are kept
// for ClusterIPs asked for by value, as Kubernetes splits a service range
// (KEP-3070): min(max(16, size/16), 256) of a range of more than 16
// addresses, none of a smaller one. A ClusterIP picked by the server comes
// from above the band while any is free there, from the band only after.
func StaticBand(p netip.Prefix) int {
	size := 1 << (32 - p.Bits())
	if size <= 16 {
		return 0
	}
	return min(max(16, size/16), 256)
}

// Addr is the address at offset o.
func (r *IPRange) Addr(o int) netip.Addr { return AddrAt(r.Prefix, uint32(o)+1) }

// AddrAt is the IPv4 address n places after the first address of p (the
// service CIDR's .10 is AddrAt(p, 10)); it may lie outside p.
func AddrAt(p netip.Prefix, n uint32) netip.Addr {
	b := p.Masked().Addr().As4()
	n += uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// Offset is the offset of ip, or false when ip is not a usable address of
// the prefix.
func (r *IPRange) Offset(ip netip.Addr) (int, bool) {
	if !ip.Is4() || !r.Prefix.Contains(ip) {
		return 0, false
	}
	b, base := ip.As4(), r.Prefix.Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	m := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	o := int(n-m) - 1
	if o < 0 || o >= r.Size() {
		return 0, false
	}
	return o, true
}
