package dnsserver

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/skiff-sh/skiff/dnsserver/dnstest"
)

var rr = dnstest.RR

const soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"

// clusterBackend is the small cluster the table below asks about.
func clusterBackend() *MemoryBackend {
	b := NewMemoryBackend()
	b.SetService(Service{Namespace: "default", Name: "web",
		Ports:     []Port{{Name: "http", Protocol: "tcp", Port: 80}, {Name: "dns", Protocol: "udp", Port: 53}, {Protocol: "tcp", Port: 8080}},
		Endpoints: eps("10.0.0.2", "10.0.0.1")})
	b.SetService(Service{Namespace: "default", Name: "empty", Ports: []Port{{Name: "http", Protocol: "tcp", Port: 80}}})
	b.SetService(Service{Namespace: "other", Name: "v6", Endpoints: eps("fd00::1")})
	// A StatefulSet's headless service: its pods' subdomain, so each is
	// found by its hostname.
	b.SetService(Service{Namespace: "default", Name: "nginx", Ports: []Port{{Name: "web", Protocol: "tcp", Port: 80}},
		Endpoints: []Endpoint{{IP: ip("10.0.0.5"), Pod: "sts-0", Hostname: "sts-0"}, {IP: ip("10.0.0.6"), Pod: "sts-1", Hostname: "sts-1"}}})
	b.SetService(Service{Namespace: "default", Name: "vip", ClusterIP: ip("10.96.0.10"),
		Ports: []Port{{Name: "http", Protocol: "tcp", Port: 80}}, Endpoints: eps("10.0.0.1")})
	b.SetPod(Pod{Namespace: "default", Name: "web-1", IP: ip("10.0.0.1")})
	b.SetPod(Pod{Namespace: "default", Name: "web-2", IP: ip("10.0.0.2")})
	b.SetPod(Pod{Namespace: "default", Name: "lonely", IP: ip("10.0.0.9")})
	b.SetPod(Pod{Namespace: "other", Name: "v6-1", IP: ip("fd00::1")})
	return b
}

func clusterCases() []dnstest.Case {
	return []dnstest.Case{
		{Qname: "dns-version.cluster.local.", Qtype: dns.TypeTXT, Answer: []dns.RR{
			rr(`dns-version.cluster.local. 5 IN TXT "1.1.0"`),
		}},
		{Qname: "dns-version.cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		{Qname: "web.default.svc.cluster.local.", Qtype: dns.TypeA, Answer: []dns.RR{
			rr("web.default.svc.cluster.local. 5 IN A 10.0.0.1"),
			rr("web.default.svc.cluster.local. 5 IN A 10.0.0.2"),
		}},
		{Qname: "WeB.DeFault.SVC.cluster.local.", Qtype: dns.TypeA, Do: true, Answer: []dns.RR{
			rr("web.default.svc.cluster.local. 5 IN A 10.0.0.1"),
			rr("web.default.svc.cluster.local. 5 IN A 10.0.0.2"),
		}},
		{Qname: "web.default.svc.cluster.local.", Qtype: dns.TypeAAAA, Ns: []dns.RR{rr(soa)}},
		{Qname: "web.default.svc.cluster.local.", Qtype: dns.TypeTXT, Ns: []dns.RR{rr(soa)}},
		{Qname: "empty.default.svc.cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		// A service with a ClusterIP: its address, and SRV to the service
		// itself at the service port; no per-pod names.
		{Qname: "vip.default.svc.cluster.local.", Qtype: dns.TypeA, Answer: []dns.RR{
			rr("vip.default.svc.cluster.local. 5 IN A 10.96.0.10"),
		}},
		{Qname: "_http._tcp.vip.default.svc.cluster.local.", Qtype: dns.TypeSRV, Answer: []dns.RR{
			rr("_http._tcp.vip.default.svc.cluster.local. 5 IN SRV 0 100 80 vip.default.svc.cluster.local."),
		}, Extra: []dns.RR{
			rr("vip.default.svc.cluster.local. 5 IN A 10.96.0.10"),
		}},
		{Qname: "10-0-0-1.vip.default.svc.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "empty.default.svc.cluster.local.", Qtype: dns.TypeSRV, Ns: []dns.RR{rr(soa)}},
		{Qname: "nope.default.svc.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "web.nope.svc.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "a.b.c.web.default.svc.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "_http._tcp.web.default.svc.cluster.local.", Qtype: dns.TypeSRV, Answer: []dns.RR{
			rr("_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 10-0-0-1.web.default.svc.cluster.local."),
			rr("_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 10-0-0-2.web.default.svc.cluster.local."),
		}, Extra: []dns.RR{
			rr("10-0-0-1.web.default.svc.cluster.local. 5 IN A 10.0.0.1"),
			rr("10-0-0-2.web.default.svc.cluster.local. 5 IN A 10.0.0.2"),
		}},
		{Qname: "_dns._udp.web.default.svc.cluster.local.", Qtype: dns.TypeSRV, Answer: []dns.RR{
			rr("_dns._udp.web.default.svc.cluster.local. 5 IN SRV 0 50 53 10-0-0-1.web.default.svc.cluster.local."),
			rr("_dns._udp.web.default.svc.cluster.local. 5 IN SRV 0 50 53 10-0-0-2.web.default.svc.cluster.local."),
		}, Extra: []dns.RR{
			rr("10-0-0-1.web.default.svc.cluster.local. 5 IN A 10.0.0.1"),
			rr("10-0-0-2.web.default.svc.cluster.local. 5 IN A 10.0.0.2"),
		}},
		{Qname: "_http._udp.web.default.svc.cluster.local.", Qtype: dns.TypeSRV, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "_http._tcp.web.default.svc.cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		{Qname: "_tcp.web.default.svc.cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		{Qname: "web.default.svc.cluster.local.", Qtype: dns.TypeSRV, Answer: []dns.RR{
			rr("web.default.svc.cluster.local. 5 IN SRV 0 16 80 10-0-0-1.web.default.svc.cluster.local."),
			rr("web.default.svc.cluster.local. 5 IN SRV 0 16 80 10-0-0-2.web.default.svc.cluster.local."),
			rr("web.default.svc.cluster.local. 5 IN SRV 0 16 53 10-0-0-1.web.default.svc.cluster.local."),
			rr("web.default.svc.cluster.local. 5 IN SRV 0 16 53 10-0-0-2.web.default.svc.cluster.local."),
			rr("web.default.svc.cluster.local. 5 IN SRV 0 16 8080 10-0-0-1.web.default.svc.cluster.local."),
			rr("web.default.svc.cluster.local. 5 IN SRV 0 16 8080 10-0-0-2.web.default.svc.cluster.local."),
		}, Extra: []dns.RR{
			rr("10-0-0-1.web.default.svc.cluster.local. 5 IN A 10.0.0.1"),
			rr("10-0-0-2.web.default.svc.cluster.local. 5 IN A 10.0.0.2"),
		}},
		{Qname: "10-0-0-1.web.default.svc.cluster.local.", Qtype: dns.TypeA, Answer: []dns.RR{
			rr("10-0-0-1.web.default.svc.cluster.local. 5 IN A 10.0.0.1"),
		}},
		{Qname: "sts-1.nginx.default.svc.cluster.local.", Qtype: dns.TypeA, Answer: []dns.RR{
			rr("sts-1.nginx.default.svc.cluster.local. 5 IN A 10.0.0.6"),
		}},
		{Qname: "_web._tcp.nginx.default.svc.cluster.local.", Qtype: dns.TypeSRV, Answer: []dns.RR{
			rr("_web._tcp.nginx.default.svc.cluster.local. 5 IN SRV 0 50 80 sts-0.nginx.default.svc.cluster.local."),
			rr("_web._tcp.nginx.default.svc.cluster.local. 5 IN SRV 0 50 80 sts-1.nginx.default.svc.cluster.local."),
		}, Extra: []dns.RR{
			rr("sts-0.nginx.default.svc.cluster.local. 5 IN A 10.0.0.5"),
			rr("sts-1.nginx.default.svc.cluster.local. 5 IN A 10.0.0.6"),
		}},
		{Qname: "10-0-0-6.nginx.default.svc.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "10-0-0-9.web.default.svc.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "10-0-0-1.default.pod.cluster.local.", Qtype: dns.TypeA, Answer: []dns.RR{
			rr("10-0-0-1.default.pod.cluster.local. 5 IN A 10.0.0.1"),
		}},
		{Qname: "10-0-0-9.default.pod.cluster.local.", Qtype: dns.TypeA, Answer: []dns.RR{
			rr("10-0-0-9.default.pod.cluster.local. 5 IN A 10.0.0.9"),
		}},
		{Qname: "10-0-0-9.other.pod.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "10-0-0-7.default.pod.cluster.local.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{rr(soa)}},
		{Qname: "1.0.0.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{
			rr("1.0.0.10.in-addr.arpa. 5 IN PTR 10-0-0-1.web.default.svc.cluster.local."),
		}},
		{Qname: "9.0.0.10.in-addr.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{
			rr("9.0.0.10.in-addr.arpa. 5 IN PTR 10-0-0-9.default.pod.cluster.local."),
		}},
		{Qname: "v6.other.svc.cluster.local.", Qtype: dns.TypeAAAA, Answer: []dns.RR{
			rr("v6.other.svc.cluster.local. 5 IN AAAA fd00::1"),
		}},
		{Qname: "fd00--1.other.pod.cluster.local.", Qtype: dns.TypeAAAA, Answer: []dns.RR{
			rr("fd00--1.other.pod.cluster.local. 5 IN AAAA fd00::1"),
		}},
		{Qname: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", Qtype: dns.TypePTR, Answer: []dns.RR{
			rr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. 5 IN PTR fd00--1.v6.other.svc.cluster.local."),
		}},
		{Qname: "cluster.local.", Qtype: dns.TypeSOA, Answer: []dns.RR{rr(soa)}},
		{Qname: "cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		{Qname: "svc.cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		{Qname: "pod.cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		{Qname: "default.svc.cluster.local.", Qtype: dns.TypeA, Ns: []dns.RR{rr(soa)}},
		{Qname: "web.default.svc.cluster.local.", Qtype: dns.TypeANY, Answer: []dns.RR{
			rr(`web.default.svc.cluster.local. 8482 IN HINFO "RFC8482" ""`),
		}},
		// Outside the cluster: the fake upstream's answer.
		{Qname: "example.com.", Qtype: dns.TypeA, Answer: []dns.RR{rr("example.com. 30 IN A 192.0.2.7")}},
		{Qname: "no.example.com.", Qtype: dns.TypeAAAA, Rcode: dns.RcodeNameError, Ns: []dns.RR{
			rr(". 30 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 30")}},
		// A reverse name of an IP no pod holds is not ours either.
		{Qname: "7.0.0.10.in-addr.arpa.", Qtype: dns.TypePTR, Rcode: dns.RcodeNameError, Ns: []dns.RR{
			rr(". 30 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 30")}},
	}
}

func TestClusterRecords(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.Answering("192.0.2.7"))
	ts := startServer(t, Config{Backend: clusterBackend(), Upstreams: []string{up.Addr}})
	for _, network := range []string{"udp", "tcp"} {
		for _, c := range clusterCases() {
			resp := ts.exchange(t, c.Msg(), network)
			if err := dnstest.Check(c, resp); err != nil {
				t.Errorf("%s: %v", network, err)
			}
			if !resp.Response {
				t.Errorf("%s: not a response", c.Qname)
			}
		}
	}
	if got := ts.counter(t, "skiff_dns_stale_answers_total"); got != 0 {
		t.Errorf("stale answers = %v, want 0", got)
	}
}

// The answer keeps the question as the client spelled it (0x20).
func TestQuestionCasePreserved(t *testing.T) {
	ts := startServer(t, Config{Backend: clusterBackend()})
	m := new(dns.Msg)
	m.SetQuestion("wEb.dEfAuLt.SvC.cLuStEr.LoCaL.", dns.TypeA)
	resp := ts.exchange(t, m, "udp")
	if resp.Question[0].Name != m.Question[0].Name || resp.Id != m.Id {
		t.Fatalf("question %q id %d, want %q id %d", resp.Question[0].Name, resp.Id, m.Question[0].Name, m.Id)
	}
	if !resp.Authoritative || !resp.RecursionDesired {
		t.Errorf("flags: aa=%v rd=%v", resp.Authoritative, resp.RecursionDesired)
	}
}
