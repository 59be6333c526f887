package dnsserver

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skiff-sh/skiff/dnsserver/dnstest"
)

func TestForwardAndCache(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.Answering("192.0.2.1"))
	ts := startServer(t, Config{Backend: NewMemoryBackend(), Upstreams: []string{up.Addr}})
	for i := 0; i < 3; i++ {
		m := query("Example.ORG.", dns.TypeA)
		resp := ts.exchange(t, m, "udp")
		if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.1" || resp.Id != m.Id {
			t.Fatalf("query %d: %v", i, resp)
		}
		if resp.Question[0].Name != "Example.ORG." {
			t.Errorf("question spelled %q", resp.Question[0].Name)
		}
		if ttl := resp.Answer[0].Header().Ttl; ttl > 30 {
			t.Errorf("ttl %d above upstream's 30", ttl)
		}
	}
	if n := up.Queries.Load(); n != 1 {
		t.Errorf("upstream asked %d times, want 1 (then the cache)", n)
	}
	if h, m := ts.counter(t, "skiff_dns_cache_hits_total"), ts.counter(t, "skiff_dns_cache_misses_total"); h != 2 || m != 1 {
		t.Errorf("cache hits %v misses %v, want 2 and 1", h, m)
	}
	if f := ts.counter(t, "skiff_dns_forwarded_total"); f != 1 {
		t.Errorf("forwarded %v, want 1", f)
	}
	// Over TCP too, and negative answers are cached.
	for i := 0; i < 2; i++ {
		resp := ts.exchange(t, query("nothing.example.org.", dns.TypeMX), "tcp")
		if resp.Rcode != dns.RcodeNameError {
			t.Fatalf("negative: %v", resp)
		}
	}
	if n := up.Queries.Load(); n != 2 {
		t.Errorf("upstream asked %d times, want 2", n)
	}
}

// The second upstream answers when the first is down.
func TestForwardFailover(t *testing.T) {
	dead := closedPort(t)
	up := dnstest.NewUpstream(t, dnstest.Answering("192.0.2.2"))
	ts := startServer(t, Config{Backend: NewMemoryBackend(), Upstreams: []string{dead, up.Addr}})
	resp := ts.exchange(t, query("example.net.", dns.TypeA), "udp")
	if len(resp.Answer) != 1 {
		t.Fatalf("failover: %v", resp)
	}
}

// With no upstream answering, clients get SERVFAIL instead of silence:
// the server gives up on its upstreams (ForwardTimeout, short here) well
// inside the client's own timeout, and answers.
func TestForwardSERVFAILQuickly(t *testing.T) {
	silent := dnstest.NewUpstream(t, dnstest.Silent)
	for _, tc := range []struct {
		name string
		ups  []string
	}{
		{"silent", []string{silent.Addr}},
		{"refused port", []string{closedPort(t)}},
		{"none", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{Backend: NewMemoryBackend(), Upstreams: tc.ups, ForwardTimeout: 100 * time.Millisecond})
			// exchange fails the test if no answer comes at all.
			resp := ts.exchange(t, query("example.com.", dns.TypeA), "udp")
			if resp.Rcode != dns.RcodeServerFailure {
				t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
			}
		})
	}
}

// closedPort is a loopback UDP address nobody listens on.
func closedPort(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestMetrics(t *testing.T) {
	ts := startServer(t, Config{Backend: clusterBackend()})
	for i := 0; i < 3; i++ {
		ts.exchange(t, query("web.default.svc.cluster.local.", dns.TypeA), "udp")
	}
	ts.exchange(t, query("nope.default.svc.cluster.local.", dns.TypeA), "udp")
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for k, v := range map[string]float64{
		"skiff_dns_queries_total,rcode=NOERROR,type=A":  3,
		"skiff_dns_queries_total,rcode=NXDOMAIN,type=A": 1,
		"skiff_dns_request_duration_seconds":            4,
		"skiff_dns_stale_answers_total":                 0,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	for _, name := range []string{"skiff_dns_cache_hits_total", "skiff_dns_cache_misses_total", "skiff_dns_forwarded_total"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s not exported", name)
		}
	}
}
