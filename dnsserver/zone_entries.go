package dnsserver

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// The names a service and an IP answer for, after the Kubernetes DNS
// specification. A service with a ClusterIP answers its name with that
// address and its SRV records name the service itself at the service
// port; a headless one answers:
//
//	<svc>.<ns>.svc.<domain>                  A/AAAA per ready pod; SRV for every port
//	_<port>._<proto>.<svc>.<ns>.svc.<domain> SRV per ready pod, target below
//	<a-b-c-d>.<svc>.<ns>.svc.<domain>        A of that pod
//	<hostname>.<svc>.<ns>.svc.<domain>       A of a pod whose subdomain is <svc>, in place of the above
//	<a-b-c-d>.<ns>.pod.<domain>              A of a live pod
//	<d.c.b.a>.in-addr.arpa                   PTR to the names above

// entrySet collects one owner's entries while they are built.
type entrySet struct {
	z       *zone
	owner   *owner
	version uint64
	out     map[string]*entry
}

func (s *entrySet) name(name string, soa []byte) *entry {
	k := wireKey(name)
	if k == "" {
		return nil // too long or malformed: the API should not allow it
	}
	e := s.out[k]
	if e == nil {
		e = &entry{owner: s.owner, version: s.version, soa: soa}
		s.out[k] = e
	}
	return e
}

func (s *entrySet) add(name string, qtype uint16, answer, extra []dns.RR) {
	e := s.name(name, s.z.soaDomain)
	if e == nil || len(answer) == 0 {
		return
	}
	p, err := pack(name, qtype, answer, extra)
	if err != nil {
		s.z.log.Warn("cannot pack answer", "name", name, "err", err)
		return
	}
	e.types = append(e.types, typedAnswer{qtype, p})
}

func (z *zone) serviceEntries(svc Service, o *owner, v uint64) map[string]*entry {
	s := &entrySet{z: z, owner: o, version: v, out: map[string]*entry{}}
	base := svc.Name + "." + svc.Namespace + ".svc." + z.domain
	s.name(base, z.soaDomain)
	if svc.ClusterIP.IsValid() {
		return z.clusterIPEntries(s, svc, base)
	}
	var a, aaaa []dns.RR
	hosts := make([]string, len(svc.Endpoints))
	for i, ep := range svc.Endpoints {
		hosts[i] = dashed(ep.IP) + "." + base
		if ep.Hostname != "" {
			hosts[i] = ep.Hostname + "." + base
		}
		s.add(hosts[i], addrType(ep.IP), []dns.RR{addrRR(hosts[i], ep.IP, z.ttl)}, nil)
		if ep.IP.Is4() {
			a = append(a, addrRR(base, ep.IP, z.ttl))
		} else {
			aaaa = append(aaaa, addrRR(base, ep.IP, z.ttl))
		}
	}
	s.add(base, dns.TypeA, a, nil)
	s.add(base, dns.TypeAAAA, aaaa, nil)

	srv, extra := z.srv(base, svc.Ports, svc.Endpoints, hosts)
	s.add(base, dns.TypeSRV, srv, extra)
	for _, p := range svc.Ports {
		if p.Name == "" {
			continue
		}
		s.name("_"+p.Protocol+"."+base, z.soaDomain) // empty non-terminal
		name := "_" + p.Name + "._" + p.Protocol + "." + base
		s.name(name, z.soaDomain)
		srv, extra := z.srv(name, []Port{p}, svc.Endpoints, hosts)
		s.add(name, dns.TypeSRV, srv, extra)
	}
	return s.out
}

// clusterIPEntries: the name's A record is the ClusterIP (whatever the
// endpoints: the proxy decides where connections go), and
// _<port>._<proto>.<name> SRV names the service at its own port.
func (z *zone) clusterIPEntries(s *entrySet, svc Service, base string) map[string]*entry {
	s.add(base, addrType(svc.ClusterIP), []dns.RR{addrRR(base, svc.ClusterIP, z.ttl)}, nil)
	self := []Endpoint{{IP: svc.ClusterIP}}
	hosts := []string{base}
	srv, extra := z.srv(base, svc.Ports, self, hosts)
	s.add(base, dns.TypeSRV, srv, extra)
	for _, p := range svc.Ports {
		if p.Name == "" {
			continue
		}
		s.name("_"+p.Protocol+"."+base, z.soaDomain)
		name := "_" + p.Name + "._" + p.Protocol + "." + base
		s.name(name, z.soaDomain)
		srv, extra := z.srv(name, []Port{p}, self, hosts)
		s.add(name, dns.TypeSRV, srv, extra)
	}
	return s.out
}

// srv lists one SRV per port and endpoint that serves it, at the port the
// endpoint serves it on, with the endpoints' addresses as additional
// records. Weights share 100 among the records, as CoreDNS
// does.
func (z *zone) srv(owner string, ports []Port, eps []Endpoint, hosts []string) (srv, extra []dns.RR) {
	var recs []*dns.SRV
	targets := map[int]bool{}
	for _, p := range ports {
		for i, ep := range eps {
			port, ok := ep.port(p)
			if !ok {
				continue // the pod does not serve this port
			}
			targets[i] = true
			recs = append(recs, &dns.SRV{
				Hdr:      dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: z.ttl},
				Priority: 0, Port: port, Target: hosts[i],
			})
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	weight := uint16(max(100/len(recs), 1))
	for _, r := range recs {
		r.Weight = weight
		srv = append(srv, r)
	}
	for i, ep := range eps {
		if targets[i] {
			extra = append(extra, addrRR(hosts[i], ep.IP, z.ttl))
		}
	}
	return srv, extra
}

func (z *zone) ipEntries(ip netip.Addr, pods []Pod, svcs []svcRef, o *owner, v uint64) map[string]*entry {
	s := &entrySet{z: z, owner: o, version: v, out: map[string]*entry{}}
	var ptr []string
	slices.SortFunc(svcs, func(a, b svcRef) int {
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for _, r := range svcs {
		ptr = append(ptr, dashed(ip)+"."+r.name+"."+r.ns+".svc."+z.domain)
	}
	for _, p := range pods {
		name := dashed(ip) + "." + p.Namespace + ".pod." + z.domain
		if e := s.name(name, z.soaDomain); e != nil && len(e.types) == 0 {
			s.add(name, addrType(ip), []dns.RR{addrRR(name, ip, z.ttl)}, nil)
		}
		if len(svcs) == 0 && !slices.Contains(ptr, name) {
			ptr = append(ptr, name)
		}
	}
	if len(ptr) > 0 {
		rev, err := dns.ReverseAddr(ip.String())
		if err != nil {
			return s.out
		}
		soa := z.soaV4
		if ip.Is6() {
			soa = z.soaV6
		}
		var rrs []dns.RR
		for _, t := range ptr {
			rrs = append(rrs, &dns.PTR{Hdr: dns.RR_Header{Name: rev, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: z.ttl}, Ptr: t})
		}
		if e := s.name(rev, soa); e != nil {
			p, err := pack(rev, dns.TypePTR, rrs, nil)
			if err != nil {
				z.log.Warn("cannot pack answer", "name", rev, "err", err)
			} else {
				e.types = append(e.types, typedAnswer{dns.TypePTR, p})
			}
		}
	}
	return s.out
}
