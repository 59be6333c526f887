package dnsserver

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"slices"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Index names. A pod is filed under every "<ns>\x00<key>=<value>" of its
// labels and a service under every pair of its selector, so a pod event
// finds its services, and a service its pods, without scanning the
// namespace.
const (
	indexLabel    = "label"
	indexSelector = "selector"
	indexIP       = "ip"
)

// apiBackend is the Backend fed by the API server through two informers
// (list, then watch; no polling).
type apiBackend struct {
	log      *slog.Logger
	services *client.Informer[*skiffv1.Service]
	pods     *client.Informer[*skiffv1.Pod]
}

// newAPIBackend wires the informers; nothing talks to the server before Run.
func newAPIBackend(c *client.Client, log *slog.Logger) *apiBackend {
	b := &apiBackend{
		log:      log,
		services: client.NewInformer(c.Services(), client.ListOptions{}, log),
		pods:     client.NewInformer(c.Pods(), client.ListOptions{}, log),
	}
	b.services.AddIndex(indexSelector, func(s *skiffv1.Service) []string {
		return pairKeys(s.GetMetadata().GetNamespace(), s.GetSpec().GetSelector())
	})
	b.pods.AddIndex(indexLabel, func(p *skiffv1.Pod) []string {
		return pairKeys(p.GetMetadata().GetNamespace(), p.GetMetadata().GetLabels())
	})
	b.pods.AddIndex(indexIP, func(p *skiffv1.Pod) []string {
		if ip, ok := podIP(p); ok {
			return []string{ip.String()}
		}
		return nil
	})
	return b
}

func pairKeys(ns string, m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, pairKey(ns, k, v))
	}
	return out
}

func pairKey(ns, k, v string) string { return ns + "\x00" + k + "=" + v }

// Run implements Backend.
func (b *apiBackend) Run(ctx context.Context, l Listener, synced func()) error {
	b.services.AddHandler(client.Handler[*skiffv1.Service]{
		OnAdd:    func(s *skiffv1.Service) { b.serviceEvent(l, nil, s) },
		OnUpdate: func(old, s *skiffv1.Service) { b.serviceEvent(l, old, s) },
		OnDelete: func(s *skiffv1.Service) { b.serviceEvent(l, nil, s) },
	})
	b.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd:    func(p *skiffv1.Pod) { b.podEvent(l, nil, p) },
		OnUpdate: func(old, p *skiffv1.Pod) { b.podEvent(l, old, p) },
		OnDelete: func(p *skiffv1.Pod) { b.podEvent(l, p, nil) },
	})
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.services.Run(ctx) })
	g.Go(func() error { return b.pods.Run(ctx) })
	g.Go(func() error {
		if b.services.WaitForSync(ctx) && b.pods.WaitForSync(ctx) {
			b.log.Debug("caches synced", "services", len(b.services.List()), "pods", len(b.pods.List()))
			synced()
		}
		return nil
	})
	return g.Wait()
}

func (b *apiBackend) serviceEvent(l Listener, old, s *skiffv1.Service) {
	if old != nil && proto.Equal(old.GetSpec(), s.GetSpec()) {
		return // a status or metadata change: nothing DNS serves moved
	}
	l.ServiceChanged(s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())
}

// podEvent tells the listener about every service and IP whose answers a
// pod change can move. old or p is nil for an add or a delete.
func (b *apiBackend) podEvent(l Listener, old, p *skiffv1.Pod) {
	oldIP, oldLive := podIP(old)
	newIP, newLive := podIP(p)
	oldReady, newReady := old != nil && podReady(old), p != nil && podReady(p)
	sameLabels := old != nil && p != nil && maps.Equal(old.GetMetadata().GetLabels(), p.GetMetadata().GetLabels())
	if oldLive == newLive && oldIP == newIP && oldReady == newReady && sameLabels {
		return // e.g. a container restart count or a heartbeat
	}
	var changed []*skiffv1.Service
	for _, q := range []*skiffv1.Pod{old, p} {
		// Only a ready pod is in a service's answers, so only services
		// that select the old or the new version while it is ready move.
		if q == nil || !podReady(q) {
			continue
		}
		for _, s := range b.candidateServices(q) {
			if selects(s, q) && !slices.Contains(changed, s) {
				changed = append(changed, s)
			}
		}
	}
	for _, s := range changed {
		l.ServiceChanged(s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())
	}
	if oldLive {
		l.PodIPChanged(oldIP)
	}
	if newLive && (!oldLive || newIP != oldIP) {
		l.PodIPChanged(newIP)
	}
}

// candidateServices are the services whose selector shares a pair with the
// pod's labels: a superset of those that select it.
func (b *apiBackend) candidateServices(p *skiffv1.Pod) []*skiffv1.Service {
	ns := p.GetMetadata().GetNamespace()
	var out []*skiffv1.Service
	for k, v := range p.GetMetadata().GetLabels() {
		for _, s := range b.services.ByIndex(indexSelector, pairKey(ns, k, v)) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// Services implements Backend.
func (b *apiBackend) Services() []Service {
	svcs := b.services.List()
	out := make([]Service, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, serviceView(s, b.candidatePods(s)))
	}
	return out
}

// Service implements Backend.
func (b *apiBackend) Service(namespace, name string) (Service, bool) {
	s, ok := b.services.Get(client.Key(namespace, name))
	if !ok {
		return Service{}, false
	}
	return serviceView(s, b.candidatePods(s)), true
}

// candidatePods are the pods filed under one pair of the selector (the
// first in key order, so the choice is stable).
func (b *apiBackend) candidatePods(s *skiffv1.Service) []*skiffv1.Pod {
	sel := s.GetSpec().GetSelector()
	if len(sel) == 0 {
		return nil
	}
	var first string
	for k := range sel {
		if first == "" || k < first {
			first = k
		}
	}
	return b.pods.ByIndex(indexLabel, pairKey(s.GetMetadata().GetNamespace(), first, sel[first]))
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
