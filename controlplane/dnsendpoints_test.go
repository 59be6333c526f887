package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Every server computes the same Endpoints from the same registrations,
// whatever their order: servers without DNS, or with an address pods
// cannot use, are left out; one slice per port.
func TestDNSEndpointSlices(t *testing.T) {
	regs := []serverRegistration{
		{Name: "c", DNS: "172.31.0.3:53"},
		{Name: "a", DNS: "172.31.0.1:53"},
		{Name: "no-dns"},
		{Name: "odd-port", DNS: "172.31.0.9:5353"},
		{Name: "v6", DNS: "[fd00::1]:53"},
		{Name: "junk", DNS: "not an address"},
		{Name: "b", DNS: "172.31.0.2:53"},
	}
	got := dnsEndpointSlices(regs)
	slices.Reverse(regs)
	if again := dnsEndpointSlices(regs); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Fatalf("the order of the registrations changed the result:\n%v\n%v", got, again)
	}
	if want := []string{"172.31.0.1:53", "172.31.0.2:53", "172.31.0.3:53", "172.31.0.9:5353"}; !slices.Equal(dnsAddresses(got), want) {
		t.Fatalf("addresses %v, want %v", dnsAddresses(got), want)
	}
	for _, s := range got {
		if len(s.Ports) != 2 || s.Ports[0].Name != "dns" || s.Ports[0].Protocol != "UDP" || s.Ports[1].Name != "dns-tcp" || s.Ports[1].Protocol != "TCP" || s.Ports[0].Port != s.Ports[1].Port {
			t.Errorf("slice ports %v: want dns/UDP and dns-tcp/TCP on one port", s.Ports)
		}
		for _, e := range s.Endpoints {
			if !e.Conditions.GetReady() || !e.Conditions.GetServing() {
				t.Errorf("endpoint %v not ready", e)
			}
		}
	}
	if got := dnsEndpointSlices(nil); len(got) != 0 {
		t.Errorf("no servers: %v, want no slices", got)
	}
}

func TestDNSClusterIP(t *testing.T) {
	for _, tc := range []struct{ cidr, want string }{
		{"", "10.96.0.10"}, {"10.96.0.0/12", "10.96.0.10"}, {"10.43.7.0/16", "10.43.0.10"}, {"192.168.5.0/28", "192.168.5.10"},
		{"192.168.5.0/29", ""}, {"fd00::/108", ""}, {"nonsense", ""},
	} {
		ip, err := dnsClusterIP(tc.cidr)
		if tc.want == "" {
			if err == nil {
				t.Errorf("dnsClusterIP(%q) = %v, want an error", tc.cidr, ip)
			}
			continue
		}
		if err != nil || ip.String() != tc.want {
			t.Errorf("dnsClusterIP(%q) = %v, %v; want %s", tc.cidr, ip, err, tc.want)
		}
	}
}

func TestAdvertisedDNS(t *testing.T) {
	for _, tc := range []struct{ bound, api, want string }{
		{"172.31.4.2:53", "172.31.4.2:6443", "172.31.4.2:53"},
		{"0.0.0.0:53", "10.0.0.5:6443", "10.0.0.5:53"},
		{"[::]:53", "10.0.0.5:6443", "10.0.0.5:53"},
		{"0.0.0.0:53", "127.0.0.1:6443", ""}, // nowhere other machines reach
		{"127.0.0.1:53", "10.0.0.5:6443", ""},
		{"[fd00::1]:53", "10.0.0.5:6443", ""},
	} {
		got, ok := advertisedDNS(tc.bound, tc.api)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("advertisedDNS(%s, %s) = %q, %v; want %q", tc.bound, tc.api, got, ok, tc.want)
		}
	}
	if got := advertisedHostPort("0.0.0.0:9090", "10.0.0.5:6443"); got != "10.0.0.5:9090" {
		t.Errorf("metrics on 0.0.0.0: advertised %s", got)
	}
	if got := advertisedHostPort("127.0.0.1:9090", "10.0.0.5:6443"); got != "127.0.0.1:9090" {
		t.Errorf("metrics on loopback: advertised %s", got)
	}
}

// dnsHarness is an API server, an etcd client of its etcd and helpers to
// register servers the way advertiseServer does.
type dnsHarness struct {
	api  *apitest.Server
	etcd *clientv3.Client
}

func newDNSHarness(t *testing.T) *dnsHarness {
	t.Helper()
	s := apitest.Start(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.EtcdEndpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return &dnsHarness{api: s, etcd: cli}
}

// register puts a registration under a lease of ttl seconds, not kept
// alive: it goes when the lease runs out, as a killed server's does.
func (h *dnsHarness) register(t *testing.T, name, dns string, ttl int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lease, err := h.etcd.Grant(ctx, ttl)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := json.Marshal(serverRegistration{Name: name, Address: name + ":6443", DNS: dns, Started: time.Now()})
	if _, err := h.etcd.Put(ctx, serversPrefix+name+":6443", string(v), clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
}

// reconciler runs one server's reconciler until the test ends.
func (h *dnsHarness) reconciler(t *testing.T, clusterIP string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d := &dnsEndpoints{etcd: h.etcd, api: h.api.Client, log: slog.New(slog.DiscardHandler)}
	if clusterIP != "" {
		d.clusterIP = netip.MustParseAddr(clusterIP)
	}
	go func() { defer close(done); d.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitDNSEndpoints waits until the kube-dns Endpoints list exactly want.
func (h *dnsHarness) waitDNSEndpoints(t *testing.T, what string, want ...string) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ep, err := h.api.Client.Endpoints().Get(ctx, defaults.SystemNamespace, defaults.DNSService)
		cancel()
		if err == nil {
			last = dnsAddresses(ep.GetSlices())
			if slices.Equal(last, want) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: the kube-dns Endpoints list %v, want %v", what, last, want)
}

// Two servers' reconcilers keep one Service at the service CIDR's .10 and
// Endpoints listing the live servers' DNS: a registration that ends (a
// clean stop) or whose lease runs out (a server killed) leaves the list;
// a new one joins it.
func TestDNSEndpointsFollowRegistrations(t *testing.T) {
	h := newDNSHarness(t)
	h.register(t, "s1", "172.31.0.1:53", 60)
	h.register(t, "s2", "172.31.0.2:53", 60)
	h.register(t, "api-only", "", 60) // a server without DNS
	h.reconciler(t, "10.96.0.10")
	h.reconciler(t, "10.96.0.10")
	h.waitDNSEndpoints(t, "two servers with DNS", "172.31.0.1:53", "172.31.0.2:53")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, err := h.api.Client.Services().Get(ctx, defaults.SystemNamespace, defaults.DNSService)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIp != "10.96.0.10" || len(svc.Spec.Selector) != 0 || len(svc.Spec.Ports) != 2 {
		t.Fatalf("kube-dns: clusterIP %s, selector %v, ports %v; want 10.96.0.10, none, dns and dns-tcp", svc.Spec.ClusterIp, svc.Spec.Selector, svc.Spec.Ports)
	}
	for i, want := range []string{"dns/UDP/53", "dns-tcp/TCP/53"} {
		p := svc.Spec.Ports[i]
		if got := fmt.Sprintf("%s/%s/%d", p.Name, p.Protocol, p.Port); got != want {
			t.Errorf("port %d: %s, want %s", i, got, want)
		}
	}
	// A user's service created now gets an address above the static band.
	other, err := h.api.Client.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:     &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*skiffv1.ServicePort{{Port: 80}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(other.Spec.ClusterIp, "10.96.0.") {
		t.Errorf("a dynamic ClusterIP came from the static band: %s", other.Spec.ClusterIp)
	}

	// A third server registers with a short lease, as if it then died.
	h.register(t, "s3", "172.31.0.3:53", 2)
	h.waitDNSEndpoints(t, "a third server", "172.31.0.1:53", "172.31.0.2:53", "172.31.0.3:53")
	h.waitDNSEndpoints(t, "the third server's lease ran out", "172.31.0.1:53", "172.31.0.2:53")
	// s1 stops cleanly: it deletes its registration.
	if _, err := h.etcd.Delete(ctx, serversPrefix+"s1:6443"); err != nil {
		t.Fatal(err)
	}
	h.waitDNSEndpoints(t, "s1 stopped", "172.31.0.2:53")

	// An Endpoints edited by hand is put back (on the next change).
	ep, err := h.api.Client.Endpoints().Get(ctx, defaults.SystemNamespace, defaults.DNSService)
	if err != nil {
		t.Fatal(err)
	}
	ep.Slices = nil
	if _, err := h.api.Client.Endpoints().Update(ctx, ep); err != nil {
		t.Fatal(err)
	}
	h.register(t, "s4", "172.31.0.4:53", 60)
	h.waitDNSEndpoints(t, "s4 registered after a hand edit", "172.31.0.2:53", "172.31.0.4:53")
}

// A kube-dns Service with a selector is someone's own DNS pods: the
// servers leave it and its Endpoints alone. With the service CIDR's .10
// taken, kube-dns gets another address.
func TestDNSServiceOwnership(t *testing.T) {
	t.Run("selector", func(t *testing.T) {
		h := newDNSHarness(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		own := dnsService(netip.MustParseAddr("10.96.0.10"))
		own.Spec.Selector = map[string]string{"k8s-app": "coredns"}
		if _, err := h.api.Client.Services().Create(ctx, own); err != nil {
			t.Fatal(err)
		}
		h.register(t, "s1", "172.31.0.1:53", 60)
		h.reconciler(t, "10.96.0.10")
		// A change the reconciler would act on, then time for it to act.
		h.register(t, "s2", "172.31.0.2:53", 60)
		time.Sleep(time.Second)
		ep, err := h.api.Client.Endpoints().Get(ctx, defaults.SystemNamespace, defaults.DNSService)
		if err == nil && len(dnsAddresses(ep.GetSlices())) > 0 {
			t.Fatalf("the servers wrote Endpoints for a Service with a selector: %v", dnsAddresses(ep.GetSlices()))
		}
		if err != nil && !client.IsNotFound(err) {
			t.Fatal(err)
		}
	})
	t.Run("address taken", func(t *testing.T) {
		h := newDNSHarness(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		squatter := &skiffv1.Service{
			Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "squatter"},
			Spec:     &skiffv1.ServiceSpec{ClusterIp: "10.96.0.10", Ports: []*skiffv1.ServicePort{{Port: 80}}},
		}
		if _, err := h.api.Client.Services().Create(ctx, squatter); err != nil {
			t.Fatal(err)
		}
		h.register(t, "s1", "172.31.0.1:53", 60)
		h.reconciler(t, "10.96.0.10")
		h.waitDNSEndpoints(t, "kube-dns elsewhere", "172.31.0.1:53")
		svc, err := h.api.Client.Services().Get(ctx, defaults.SystemNamespace, defaults.DNSService)
		if err != nil {
			t.Fatal(err)
		}
		if ip := svc.Spec.ClusterIp; ip == "" || ip == "10.96.0.10" || ip == skiffv1.ClusterIPNone {
			t.Fatalf("kube-dns ClusterIP %q: want another address", ip)
		}
	})
}
