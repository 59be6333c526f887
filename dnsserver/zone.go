package dnsserver

import (
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// zone holds every answer the cluster handler gives, pre-packed, keyed by
// the question name in lower-case wire format. Readers take one shard's
// read lock; writers (backend events) are serialized by mu and replace the
// entries of one service or one IP at a time.
type zone struct {
	domain    string // "cluster.local.", lower case
	domainKey string
	ttl       uint32
	backend   Backend
	log       *slog.Logger
	onStale   func()

	soaDomain, soaV4, soaV6 []byte // SOA records for negative answers

	shards [shardCount]shard

	mu       sync.Mutex // serializes rebuilds; guards the fields below
	live     bool       // set by buildAll; events before it are folded into it
	services map[svcRef]*svcState
	ips      map[netip.Addr]*ipState
	ipSvcs   map[netip.Addr]map[svcRef]struct{} // services an IP is behind, for PTR
	nsCount  map[string]int                     // services per namespace, for <ns>.svc
}

const shardCount = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]*entry
}

// owner is what built a set of entries: a service or an IP. Its version
// goes up when a rebuild starts, and the entries it then publishes carry
// the new version; a reader that sees an entry older than its owner knows a
// rebuild is under way and waits for it, so no answer outlives the event
// that changed it.
type owner struct{ version atomic.Uint64 }

// entry is what one name answers.
type entry struct {
	owner   *owner // nil for names that never change (apex, namespaces)
	version uint64
	types   []typedAnswer // absent type: NOERROR with no answer
	soa     []byte        // SOA for those NODATA answers
}

type typedAnswer struct {
	qtype uint16
	p     *packed
}

func (e *entry) answer(qtype uint16) *packed {
	for _, t := range e.types {
		if t.qtype == qtype {
			return t.p
		}
	}
	return nil
}

type svcRef struct{ ns, name string }

type svcState struct {
	owner owner
	names []string
	ips   []netip.Addr
}

type ipState struct {
	owner owner
	names []string
}

func newZone(domain string, ttl time.Duration, b Backend, log *slog.Logger, onStale func()) (*zone, error) {
	z := &zone{
		domain:    dns.CanonicalName(domain),
		ttl:       uint32(ttl / time.Second),
		backend:   b,
		log:       log,
		onStale:   onStale,
		services:  map[svcRef]*svcState{},
		ips:       map[netip.Addr]*ipState{},
		ipSvcs:    map[netip.Addr]map[svcRef]struct{}{},
		nsCount:   map[string]int{},
		domainKey: wireKey(domain),
	}
	for i := range z.shards {
		z.shards[i].m = map[string]*entry{}
	}
	serial := uint32(time.Now().Unix())
	soa, soaWire, err := soaRR(z.domain, z.domain, z.ttl, serial)
	if err != nil {
		return nil, err
	}
	z.soaDomain = soaWire
	if _, z.soaV4, err = soaRR("in-addr.arpa.", z.domain, z.ttl, serial); err != nil {
		return nil, err
	}
	if _, z.soaV6, err = soaRR("ip6.arpa.", z.domain, z.ttl, serial); err != nil {
		return nil, err
	}
	apexSOA, err := pack(z.domain, dns.TypeSOA, []dns.RR{soa}, nil)
	if err != nil {
		return nil, err
	}
	z.put(z.domainKey, &entry{types: []typedAnswer{{dns.TypeSOA, apexSOA}}, soa: z.soaDomain})
	z.put(wireKey("svc."+z.domain), &entry{soa: z.soaDomain})
	z.put(wireKey("pod."+z.domain), &entry{soa: z.soaDomain})
	// The Kubernetes DNS spec's schema version record (its §2.2).
	version := "dns-version." + z.domain
	txt, err := pack(version, dns.TypeTXT, []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: version, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: z.ttl},
		Txt: []string{dnsSchemaVersion},
	}}, nil)
	if err != nil {
		return nil, err
	}
	z.put(wireKey(version), &entry{types: []typedAnswer{{dns.TypeTXT, txt}}, soa: z.soaDomain})
	return z, nil
}

// dnsSchemaVersion is the version of the Kubernetes DNS-based service
// discovery spec served.
const dnsSchemaVersion = "1.1.0"

// ---- reading ----

func shardOf(key []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	return h % shardCount
}

func (z *zone) get(key []byte) *entry {
	s := &z.shards[shardOf(key)]
	s.mu.RLock()
	e := s.m[string(key)]
	s.mu.RUnlock()
	return e
}

// lookup returns the entry for a lower-case wire name, nil when there is
// none.
func (z *zone) lookup(key []byte) *entry {
	e := z.get(key)
	if e != nil && e.owner != nil && e.version != e.owner.version.Load() {
		// Its owner is being rebuilt right now: wait for the new answer.
		// With mu held no rebuild is half done, so a mismatch now would
		// be a bug, and is counted.
		z.mu.Lock()
		e = z.get(key)
		stale := e != nil && e.owner != nil && e.version != e.owner.version.Load()
		z.mu.Unlock()
		if stale {
			z.onStale()
		}
	}
	return e
}

// contains reports whether a lower-case wire name is at or below the
// cluster domain, label-aligned.
func (z *zone) contains(key []byte) bool {
	for off := 0; off < len(key); off += int(key[off]) + 1 {
		if len(key)-off == len(z.domainKey) {
			return string(key[off:]) == z.domainKey
		}
		if len(key)-off < len(z.domainKey) {
			return false
		}
	}
	return false
}

// ---- writing (z.mu held) ----

func (z *zone) put(key string, e *entry) {
	s := &z.shards[shardOf([]byte(key))]
	s.mu.Lock()
	s.m[key] = e
	s.mu.Unlock()
}

func (z *zone) del(key string) {
	s := &z.shards[shardOf([]byte(key))]
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// replace publishes fresh entries, then removes the names of old that are
// no longer there, and returns the new name list.
func (z *zone) replace(old []string, fresh map[string]*entry) []string {
	names := make([]string, 0, len(fresh))
	for k, e := range fresh {
		z.put(k, e)
		names = append(names, k)
	}
	for _, k := range old {
		if _, ok := fresh[k]; !ok {
			z.del(k)
		}
	}
	return names
}

// ServiceChanged implements Listener.
func (z *zone) ServiceChanged(namespace, name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if !z.live {
		return
	}
	ref := svcRef{namespace, name}
	if st := z.services[ref]; st != nil {
		st.owner.version.Add(1) // readers of its names now wait for us
	}
	svc, ok := z.backend.Service(namespace, name)
	for _, ip := range z.applyService(ref, svc, ok) {
		z.rebuildIP(ip)
	}
}

// PodIPChanged implements Listener.
func (z *zone) PodIPChanged(ip netip.Addr) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.live {
		z.rebuildIP(ip)
	}
}

// buildAll loads the whole backend once it has synced. From then on the
// zone follows events.
func (z *zone) buildAll() {
	start := time.Now()
	z.mu.Lock()
	defer z.mu.Unlock()
	z.live = true
	ips := map[netip.Addr]bool{}
	svcs := z.backend.Services()
	for _, s := range svcs {
		for _, ip := range z.applyService(svcRef{s.Namespace, s.Name}, s, true) {
			ips[ip] = true
		}
	}
	for _, ip := range z.backend.PodIPs() {
		ips[ip] = true
	}
	for ip := range ips {
		z.rebuildIP(ip)
	}
	z.log.Info("cluster zone built", "services", len(svcs), "ips", len(ips), "took", time.Since(start))
}

// applyService makes the zone answer for svc (or forget it when !ok) and
// returns the IPs whose PTR records must follow.
func (z *zone) applyService(ref svcRef, svc Service, ok bool) []netip.Addr {
	st := z.services[ref]
	if st == nil {
		if !ok {
			return nil
		}
		st = &svcState{}
		z.services[ref] = st
		if z.nsCount[ref.ns]++; z.nsCount[ref.ns] == 1 {
			z.put(wireKey(ref.ns+".svc."+z.domain), &entry{soa: z.soaDomain})
		}
	}
	v := st.owner.version.Add(1)
	var fresh map[string]*entry
	var ips []netip.Addr
	if ok {
		fresh = z.serviceEntries(svc, &st.owner, v)
		for _, ep := range svc.Endpoints {
			if !svc.ClusterIP.IsValid() { // only a headless service names its pods
				ips = append(ips, ep.IP)
			}
		}
	}
	st.names = z.replace(st.names, fresh)
	var changed []netip.Addr
	for _, ip := range st.ips {
		if !slices.Contains(ips, ip) {
			delete(z.ipSvcs[ip], ref)
			if len(z.ipSvcs[ip]) == 0 {
				delete(z.ipSvcs, ip)
			}
			changed = append(changed, ip)
		}
	}
	for _, ip := range ips {
		if !slices.Contains(st.ips, ip) {
			if z.ipSvcs[ip] == nil {
				z.ipSvcs[ip] = map[svcRef]struct{}{}
			}
			z.ipSvcs[ip][ref] = struct{}{}
			changed = append(changed, ip)
		}
	}
	st.ips = ips
	if !ok {
		delete(z.services, ref)
		if z.nsCount[ref.ns]--; z.nsCount[ref.ns] == 0 {
			delete(z.nsCount, ref.ns)
			z.del(wireKey(ref.ns + ".svc." + z.domain))
		}
	}
	z.log.Debug("service rebuilt", "namespace", ref.ns, "name", ref.name, "exists", ok, "endpoints", len(ips))
	return changed
}

// rebuildIP refreshes the pod records and the PTR record of one IP.
func (z *zone) rebuildIP(ip netip.Addr) {
	st := z.ips[ip]
	if st == nil {
		st = &ipState{}
		z.ips[ip] = st
	}
	v := st.owner.version.Add(1)
	refs := make([]svcRef, 0, len(z.ipSvcs[ip]))
	for r := range z.ipSvcs[ip] {
		refs = append(refs, r)
	}
	fresh := z.ipEntries(ip, z.backend.PodsByIP(ip), refs, &st.owner, v)
	st.names = z.replace(st.names, fresh)
	if len(st.names) == 0 {
		delete(z.ips, ip)
	}
}
