package dnsserver

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// indexIP files a live pod under its IP, for pod and PTR records;
// prefixed, as the process's shared pod informer has other components'
// indexes.
const indexIP = "dns/ip"

// apiBackend is the Backend fed by the API server through informers (list,
// then watch; no polling). Which pods are behind a service is the endpoints
// controller's decision, read from the Endpoints objects: DNS never
// evaluates a selector itself.
type apiBackend struct {
	log       *slog.Logger
	scope     *client.InformerScope
	services  *client.SharedInformer[*skiffv1.Service]
	endpoints *client.SharedInformer[*skiffv1.Endpoints]
	pods      *client.SharedInformer[*skiffv1.Pod]
}

// newAPIBackend takes the informers from set; nothing talks to the server
// before Run, and Run's end gives them back.
func newAPIBackend(set *client.SharedInformers, log *slog.Logger) (*apiBackend, error) {
	scope := set.NewScope()
	all := client.ListOptions{}
	b := &apiBackend{
		log:       log,
		scope:     scope,
		services:  client.Inform(scope, (*client.Client).Services, all),
		endpoints: client.Inform(scope, (*client.Client).Endpoints, all),
		pods:      client.Inform(scope, (*client.Client).Pods, all),
	}
	err := b.pods.AddIndex(indexIP, func(p *skiffv1.Pod) []string {
		if ip, ok := podIP(p); ok {
			return []string{ip.String()}
		}
		return nil
	})
	if err != nil {
		scope.Close()
		return nil, fmt.Errorf("dnsserver: %w", err)
	}
	return b, nil
}

// Run implements Backend.
func (b *apiBackend) Run(ctx context.Context, l Listener, synced func()) error {
	b.services.AddHandler(client.Handler[*skiffv1.Service]{
		OnAdd:    func(s *skiffv1.Service) { b.serviceEvent(l, nil, s) },
		OnUpdate: func(old, s *skiffv1.Service) { b.serviceEvent(l, old, s) },
		OnDelete: func(s *skiffv1.Service) { b.serviceEvent(l, nil, s) },
	})
	b.endpoints.AddHandler(client.Handler[*skiffv1.Endpoints]{
		OnAdd:    func(ep *skiffv1.Endpoints) { b.endpointsEvent(l, nil, ep) },
		OnUpdate: func(old, ep *skiffv1.Endpoints) { b.endpointsEvent(l, old, ep) },
		OnDelete: func(ep *skiffv1.Endpoints) { b.endpointsEvent(l, ep, nil) },
	})
	b.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd:    func(p *skiffv1.Pod) { b.podEvent(l, nil, p) },
		OnUpdate: func(old, p *skiffv1.Pod) { b.podEvent(l, old, p) },
		OnDelete: func(p *skiffv1.Pod) { b.podEvent(l, p, nil) },
	})
	// The informers run until ctx ends and the scope closes.
	defer b.scope.Close()
	b.scope.Start()
	if b.services.WaitForSync(ctx) && b.endpoints.WaitForSync(ctx) && b.pods.WaitForSync(ctx) {
		b.log.Debug("caches synced", "services", len(b.services.List()), "endpoints", len(b.endpoints.List()), "pods", len(b.pods.List()))
		synced()
	}
	<-ctx.Done()
	return nil
}

func (b *apiBackend) serviceEvent(l Listener, old, s *skiffv1.Service) {
	if old != nil && proto.Equal(old.GetSpec(), s.GetSpec()) {
		return // a status or metadata change: nothing DNS serves moved
	}
	l.ServiceChanged(s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())
}

// endpointsEvent tells the listener about the service whose endpoints may
// have moved; old or ep is nil for an add or a delete.
func (b *apiBackend) endpointsEvent(l Listener, old, ep *skiffv1.Endpoints) {
	if old != nil && ep != nil && endpointsEqual(readyEndpoints(old), readyEndpoints(ep)) {
		return // e.g. a pod that is not ready yet, or one still terminating
	}
	m := cmp.Or(ep, old).GetMetadata()
	l.ServiceChanged(m.GetNamespace(), m.GetName())
}

// podEvent tells the listener about every IP whose pod and PTR records a
// pod change can move. old or p is nil for an add or a delete.
func (b *apiBackend) podEvent(l Listener, old, p *skiffv1.Pod) {
	oldIP, oldLive := podIP(old)
	newIP, newLive := podIP(p)
	if oldLive == newLive && oldIP == newIP {
		return // e.g. a readiness change (the Endpoints object follows) or a heartbeat
	}
	if oldLive {
		l.PodIPChanged(oldIP)
	}
	if newLive && (!oldLive || newIP != oldIP) {
		l.PodIPChanged(newIP)
	}
}

// Services implements Backend.
func (b *apiBackend) Services() []Service {
	svcs := b.services.List()
	out := make([]Service, 0, len(svcs))
	for _, s := range svcs {
		ep, _ := b.endpoints.Get(client.KeyOf(s))
		out = append(out, serviceView(s, ep))
	}
	return out
}

// Service implements Backend.
func (b *apiBackend) Service(namespace, name string) (Service, bool) {
	key := client.Key(namespace, name)
	s, ok := b.services.Get(key)
	if !ok {
		return Service{}, false
	}
	ep, _ := b.endpoints.Get(key)
	return serviceView(s, ep), true
}

// PodIPs implements Backend.
func (b *apiBackend) PodIPs() []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, p := range b.pods.List() {
		if ip, ok := podIP(p); ok && !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	return out
}

// PodsByIP implements Backend.
func (b *apiBackend) PodsByIP(ip netip.Addr) []Pod {
	var out []Pod
	for _, p := range b.pods.ByIndex(indexIP, ip.String()) {
		if got, ok := podIP(p); ok && got == ip {
			out = append(out, Pod{Namespace: p.GetMetadata().GetNamespace(), Name: p.GetMetadata().GetName(), IP: ip})
		}
	}
	return out
}
