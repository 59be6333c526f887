package dnsserver

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

func addrs(resp *dns.Msg) []string {
	var out []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// Every change is visible to the very next query: there is no refresh
// interval, the zone is rebuilt inside the change.
func TestAnswersFollowChanges(t *testing.T) {
	b := NewMemoryBackend()
	ts := startServer(t, Config{Backend: b})
	name := "api.prod.svc.cluster.local."

	if resp := ts.exchange(t, query(name, dns.TypeA), "udp"); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("before create: rcode %s", dns.RcodeToString[resp.Rcode])
	}
	b.SetService(Service{Namespace: "prod", Name: "api"})
	if resp := ts.exchange(t, query(name, dns.TypeA), "udp"); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Fatalf("no pods: %v", resp)
	}
	var want []Endpoint
	for i := 1; i <= 5; i++ {
		want = append(want, Endpoint{IP: ip(fmt.Sprintf("10.1.0.%d", i))})
		b.SetService(Service{Namespace: "prod", Name: "api", Endpoints: want})
		if got := addrs(ts.exchange(t, query(name, dns.TypeA), "udp")); len(got) != i {
			t.Fatalf("after %d ready pods: %v", i, got)
		}
	}
	// A pod restarts with a new IP.
	want[0].IP = ip("10.1.0.99")
	b.SetService(Service{Namespace: "prod", Name: "api", Endpoints: want})
	for _, a := range addrs(ts.exchange(t, query(name, dns.TypeA), "udp")) {
		if a == "10.1.0.1" {
			t.Fatalf("old IP still served")
		}
	}
	if resp := ts.exchange(t, query("10-1-0-1.api.prod.svc.cluster.local.", dns.TypeA), "udp"); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("old host name still served: %v", resp)
	}
	b.DeleteService("prod", "api")
	if resp := ts.exchange(t, query(name, dns.TypeA), "udp"); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("after delete: %v", resp)
	}
	if resp := ts.exchange(t, query("prod.svc.cluster.local.", dns.TypeA), "udp"); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("namespace without services still exists: %v", resp)
	}
}

// Under concurrent churn and queries, an answer never contains an IP that
// was never part of the service, answers are always well formed, and the
// stale counter stays 0. Run with -race.
func TestChurnUnderLoad(t *testing.T) {
	b := NewMemoryBackend()
	ts := startServer(t, Config{Backend: b})
	b.SetService(Service{Namespace: "ns", Name: "s", Endpoints: eps("10.2.0.1")})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp"}
			for !stop.Load() {
				resp, _, err := c.Exchange(query("s.ns.svc.cluster.local.", dns.TypeA), ts.addr)
				if err != nil {
					t.Errorf("exchange: %v", err)
					return
				}
				if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) < 1 {
					t.Errorf("bad answer under churn: %v", resp)
					return
				}
			}
		}()
	}
	for i := 0; i < 300; i++ {
		b.SetService(Service{Namespace: "ns", Name: "s", Endpoints: eps("10.2.0.1", fmt.Sprintf("10.2.1.%d", i%250+1))})
		b.SetPod(Pod{Namespace: "ns", Name: "p", IP: ip(fmt.Sprintf("10.2.1.%d", i%250+1))})
	}
	stop.Store(true)
	wg.Wait()
	if got := ts.counter(t, "skiff_dns_stale_answers_total"); got != 0 {
		t.Errorf("stale answers = %v", got)
	}
}
