package dnsserver

import (
	"context"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// cacheHandler keeps forwarded answers for their TTL (capped), so a pod
// that looks the same outside name up in a loop costs one upstream query
// per TTL. Cluster names never reach it: they have their own zone.
type cacheHandler struct {
	c    *answerCache
	m    *metrics
	next handler
}

func (h *cacheHandler) name() string { return "cache" }

func (h *cacheHandler) serveDNS(ctx context.Context, w responseWriter, r *request) {
	k := cacheKey{name: string(r.key), qtype: r.qtype, do: r.do}
	if msg, age, ok := h.c.get(k); ok {
		if b := cachedAnswer(r, msg, age); b != nil {
			h.m.cacheHits.Inc()
			w.write(r, b)
			return
		}
	}
	h.m.cacheMisses.Inc()
	h.next.serveDNS(ctx, &cacheWriter{w: w, c: h.c, k: k}, r)
}

// cachedAnswer adapts a cached message to r, its TTLs lowered by its age.
func cachedAnswer(r *request, cached *dns.Msg, age uint32) []byte {
	m := cached.Copy()
	for _, s := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range s {
			h := rr.Header()
			h.Ttl -= min(h.Ttl, age)
		}
	}
	name, _, err := dns.UnpackDomainName(r.wire, headerLen)
	if err != nil || len(m.Question) != 1 {
		return nil
	}
	m.Id = r.id
	m.Question[0].Name = name
	m.RecursionDesired = r.rd()
	m.CheckingDisabled = r.cd()
	if r.edns {
		m.SetEdns0(ourEDNSSize, r.do)
	}
	b, err := m.Pack()
	if err != nil {
		return nil
	}
	return b
}

// cacheWriter stores the answer on its way to the client.
type cacheWriter struct {
	w responseWriter
	c *answerCache
	k cacheKey
}

func (cw *cacheWriter) write(r *request, b []byte) {
	var m dns.Msg
	if err := m.Unpack(b); err == nil {
		cw.c.put(cw.k, &m)
	}
	cw.w.write(r, b)
}

type cacheKey struct {
	name  string // lower-case wire name
	qtype uint16
	do    bool
}

type cacheItem struct {
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
}

// answerCache is a small TTL cache; when full it drops expired items, or
// else arbitrary ones (Go's map order), which is enough for a cache whose
// items live seconds.
type answerCache struct {
	mu     sync.Mutex
	items  map[cacheKey]cacheItem
	size   int
	maxTTL time.Duration
	now    func() time.Time
}

func newAnswerCache(size int, maxTTL time.Duration) *answerCache {
	return &answerCache{items: map[cacheKey]cacheItem{}, size: size, maxTTL: maxTTL, now: time.Now}
}

func (c *answerCache) get(k cacheKey) (*dns.Msg, uint32, bool) {
	now := c.now()
	c.mu.Lock()
	it, ok := c.items[k]
	c.mu.Unlock()
	if !ok || !now.Before(it.expires) {
		return nil, 0, false
	}
	return it.msg, uint32(now.Sub(it.stored) / time.Second), true
}

// put stores a NOERROR or NXDOMAIN answer for its lowest TTL (negative
// answers: the SOA's minimum, RFC 2308), at most maxTTL.
func (c *answerCache) put(k cacheKey, m *dns.Msg) {
	if c.size <= 0 || m.Truncated || (m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
		return
	}
	ttl, ok := answerTTL(m)
	if !ok {
		return
	}
	ttl = min(ttl, c.maxTTL)
	if ttl <= 0 {
		return
	}
	m.Extra = withoutOPT(m.Extra)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.size {
		dropped := 0
		for key, it := range c.items {
			if !now.Before(it.expires) || dropped == 0 {
				delete(c.items, key)
				dropped++
			}
			if dropped >= 16 {
				break
			}
		}
	}
	c.items[k] = cacheItem{msg: m, stored: now, expires: now.Add(ttl)}
}

func answerTTL(m *dns.Msg) (time.Duration, bool) {
	if len(m.Answer) == 0 {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return time.Duration(min(soa.Minttl, soa.Hdr.Ttl)) * time.Second, true
			}
		}
		return 0, false
	}
	ttl := m.Answer[0].Header().Ttl
	for _, s := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range s {
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	return time.Duration(ttl) * time.Second, true
}
