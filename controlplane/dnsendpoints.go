package controlplane

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/rangealloc"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The kube-dns Service's ports, named as Kubernetes names them.
const (
	dnsPortUDP = "dns"
	dnsPortTCP = "dns-tcp"
)

// dnsResync re-checks the DNS Endpoints this often even without a change
// of the server list: someone may have edited them.
const dnsResync = 30 * time.Second

// dnsEndpoints keeps the Service kube-system/kube-dns and its Endpoints,
// which list the DNS address of every server alive now, as kube-apiserver's
// lease endpoint reconciler keeps default/kubernetes: each server holds a
// registration under a lease (serversPrefix), and every server that serves
// DNS sets the Endpoints to the DNS addresses of the registrations present.
// A server that stops deletes its registration; one that dies loses it
// when its lease runs out, and the survivors drop it then.
//
// Every such server writes, none is elected: each computes the same
// Endpoints from the same registrations, writes only when they differ from
// what is stored, and writes with the stored resourceVersion, after reading
// the registrations anew. So of two servers that raced, the one whose
// write lands read the registrations after the other's write could land,
// and a stale list never overwrites a newer one.
type dnsEndpoints struct {
	etcd *clientv3.Client
	api  *client.Client
	// clusterIP is the Service's ClusterIP: the service CIDR's .10.
	clusterIP netip.Addr
	log       *slog.Logger
}

// run reconciles on every change of the server registrations and every
// dnsResync until ctx ends.
func (d *dnsEndpoints) run(ctx context.Context) {
	kick := make(chan struct{}, 1)
	go d.watchRegistrations(ctx, kick)
	retry := time.Second
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-timer.C:
		}
		wait := dnsResync
		if err := d.reconcile(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if client.IsConflict(err) || client.IsAlreadyExists(err) {
				retry = 100 * time.Millisecond // another server wrote: read it anew
			} else {
				d.log.Warn("keeping the cluster DNS endpoints; retrying", "err", err)
			}
			wait, retry = retry, min(2*retry, 10*time.Second)
		} else {
			retry = time.Second
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// watchRegistrations kicks on every change under serversPrefix: a server
// that registered, left, or whose lease ran out.
func (d *dnsEndpoints) watchRegistrations(ctx context.Context, kick chan<- struct{}) {
	for ctx.Err() == nil {
		wch := d.etcd.Watch(clientv3.WithRequireLeader(ctx), serversPrefix, clientv3.WithPrefix())
		for resp := range wch {
			if resp.Err() != nil {
				break
			}
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		// The watch ended (etcd lost its leader, a compaction): kick so
		// that nothing that happened meanwhile is missed, and watch anew.
		select {
		case kick <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// reconcile makes the Service exist and its Endpoints list the live
// servers' DNS addresses.
func (d *dnsEndpoints) reconcile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	svc, err := d.ensureService(ctx)
	if err != nil {
		return err
	}
	if len(svc.GetSpec().GetSelector()) > 0 {
		// Someone runs their own DNS pods behind kube-dns: the endpoints
		// controller keeps its Endpoints.
		return nil
	}
	cur, err := d.api.Endpoints().Get(ctx, defaults.SystemNamespace, defaults.DNSService)
	if err != nil && !client.IsNotFound(err) {
		return err
	}
	// Read after the Endpoints: see the type's comment.
	regs, err := readRegistrations(ctx, d.etcd)
	if err != nil {
		return err
	}
	want := dnsEndpointSlices(regs)
	if cur == nil {
		_, err := d.api.Endpoints().Create(ctx, &skiffv1.Endpoints{
			Metadata: &skiffv1.ObjectMeta{Namespace: defaults.SystemNamespace, Name: defaults.DNSService, Labels: dnsLabels()},
			Slices:   want,
		})
		if err == nil {
			d.log.Info("cluster DNS endpoints", "servers", dnsAddresses(want))
		}
		return err
	}
	if slices.EqualFunc(cur.GetSlices(), want, func(a, b *skiffv1.EndpointSlice) bool { return proto.Equal(a, b) }) {
		return nil
	}
	next := proto.Clone(cur).(*skiffv1.Endpoints)
	next.Slices = want
	if _, err := d.api.Endpoints().Update(ctx, next); err != nil {
		return err
	}
	d.log.Info("cluster DNS endpoints", "servers", dnsAddresses(want))
	return nil
}

// ensureService returns kube-system/kube-dns, creating it when missing:
// selectorless, at the service CIDR's .10, or at any free address if
// something else holds that one.
func (d *dnsEndpoints) ensureService(ctx context.Context) (*skiffv1.Service, error) {
	svc, err := d.api.Services().Get(ctx, defaults.SystemNamespace, defaults.DNSService)
	if err == nil || !client.IsNotFound(err) {
		return svc, err
	}
	want := dnsService(d.clusterIP)
	svc, err = d.api.Services().Create(ctx, want)
	if client.IsAlreadyExists(err) {
		// Another server created it, or the address is taken.
		if svc, gerr := d.api.Services().Get(ctx, defaults.SystemNamespace, defaults.DNSService); gerr == nil {
			return svc, nil
		}
		d.log.Warn("the cluster DNS address is taken by another service; kube-dns gets another (agents read it from the Service)", "clusterIP", d.clusterIP, "err", err)
		want.Spec.ClusterIp = ""
		svc, err = d.api.Services().Create(ctx, want)
	}
	if err == nil {
		d.log.Info("created the cluster DNS service", "service", defaults.SystemNamespace+"/"+defaults.DNSService, "clusterIP", svc.GetSpec().GetClusterIp())
	}
	return svc, err
}

// dnsService is the kube-dns Service at clusterIP (the server picks one
// when it is invalid).
func dnsService(clusterIP netip.Addr) *skiffv1.Service {
	s := &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Namespace: defaults.SystemNamespace, Name: defaults.DNSService, Labels: dnsLabels()},
		Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{
			{Name: dnsPortUDP, Protocol: "UDP", Port: 53, TargetPort: "53"},
			{Name: dnsPortTCP, Protocol: "TCP", Port: 53, TargetPort: "53"},
		}},
	}
	if clusterIP.IsValid() {
		s.Spec.ClusterIp = clusterIP.String()
	}
	return s
}

// dnsLabels are those Kubernetes puts on its DNS Service.
func dnsLabels() map[string]string {
	return map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "skiff-dns"}
}

// dnsEndpointSlices lists the DNS addresses of the registrations that have
// one, one slice per port, ready (a server registers its DNS address once
// it answers), sorted, so that every server computes the same.
func dnsEndpointSlices(regs []serverRegistration) []*skiffv1.EndpointSlice {
	byPort := map[uint16][]netip.Addr{}
	for _, r := range regs {
		ap, err := netip.ParseAddrPort(r.DNS)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			continue
		}
		byPort[ap.Port()] = append(byPort[ap.Port()], ap.Addr())
	}
	var out []*skiffv1.EndpointSlice
	for _, port := range slices.Sorted(maps.Keys(byPort)) {
		ips := byPort[port]
		slices.SortFunc(ips, netip.Addr.Compare)
		s := &skiffv1.EndpointSlice{AddressType: "IPv4", Ports: []*skiffv1.EndpointPort{
			{Name: dnsPortUDP, Port: int32(port), Protocol: "UDP"},
			{Name: dnsPortTCP, Port: int32(port), Protocol: "TCP"},
		}}
		for _, ip := range slices.Compact(ips) {
			s.Endpoints = append(s.Endpoints, &skiffv1.ServiceEndpoint{
				Addresses:  []string{ip.String()},
				Conditions: &skiffv1.EndpointConditions{Ready: true, Serving: true},
			})
		}
		out = append(out, s)
	}
	return out
}

// dnsAddresses is the slices' HOST:PORTs, for logs.
func dnsAddresses(ss []*skiffv1.EndpointSlice) []string {
	var out []string
	for _, s := range ss {
		for _, e := range s.GetEndpoints() {
			for _, a := range e.GetAddresses() {
				out = append(out, net.JoinHostPort(a, strconv.Itoa(int(s.GetPorts()[0].GetPort()))))
			}
		}
	}
	return out
}

// dnsClusterIP is the service CIDR's address at DNSServiceIndex.
func dnsClusterIP(serviceCIDR string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(cmp.Or(serviceCIDR, defaults.ServiceCIDR))
	if err != nil || !p.Addr().Is4() {
		return netip.Addr{}, fmt.Errorf("controlplane: service CIDR %q: not an IPv4 prefix", serviceCIDR)
	}
	p = p.Masked()
	ip := rangealloc.AddrAt(p, defaults.DNSServiceIndex)
	if p.Bits() > 28 || !p.Contains(ip) {
		return netip.Addr{}, fmt.Errorf("controlplane: service CIDR %s has no address .%d for cluster DNS", p, defaults.DNSServiceIndex)
	}
	return ip, nil
}

// advertisedHostPort is listen with a wildcard host replaced by the host
// of the advertised API address: where other machines reach a listener of
// this server. Empty stays empty.
func advertisedHostPort(listen, apiAdvertised string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		if h, _, err := net.SplitHostPort(apiAdvertised); err == nil {
			return net.JoinHostPort(h, port)
		}
	}
	return listen
}

// advertisedDNS is the address other machines reach this server's DNS
// at (bound, as the DNS server reports it): a wildcard host becomes the
// host of the advertised API address. Loopback is no address for pods
// elsewhere: false then.
func advertisedDNS(bound, apiAdvertised string) (string, bool) {
	ap, err := netip.ParseAddrPort(advertisedHostPort(bound, apiAdvertised))
	if err != nil {
		return "", false
	}
	ip := ap.Addr().Unmap()
	if !ip.Is4() || ip.IsLoopback() || ip.IsUnspecified() {
		return "", false
	}
	return netip.AddrPortFrom(ip, ap.Port()).String(), true
}
