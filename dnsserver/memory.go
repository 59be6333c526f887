package dnsserver

import (
	"context"
	"net/netip"
	"slices"
	"sync"
)

// MemoryBackend is a Backend filled by hand: tests and benchmarks use it
// to serve records without an API server. Its setters notify the server
// the way watch events do, so it exercises the same rebuild path.
type MemoryBackend struct {
	change sync.Mutex // one change and its notification at a time
	mu     sync.RWMutex
	svcs   map[svcRef]Service
	pods   map[svcRef]Pod // by namespace/name
	byIP   map[netip.Addr]map[svcRef]struct{}
	l      Listener
}

// NewMemoryBackend returns an empty backend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{svcs: map[svcRef]Service{}, pods: map[svcRef]Pod{}, byIP: map[netip.Addr]map[svcRef]struct{}{}}
}

// Run implements Backend: it is synced at once and idles until ctx ends.
func (b *MemoryBackend) Run(ctx context.Context, l Listener, synced func()) error {
	b.mu.Lock()
	b.l = l
	b.mu.Unlock()
	synced()
	<-ctx.Done()
	return nil
}

func (b *MemoryBackend) listener() Listener {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.l
}

// SetService adds or replaces a service; its endpoints are taken as given
// (they are the ready pods) and sorted.
func (b *MemoryBackend) SetService(s Service) {
	b.change.Lock()
	defer b.change.Unlock()
	s.Endpoints = slices.Clone(s.Endpoints)
	sortEndpoints(s.Endpoints)
	b.mu.Lock()
	b.svcs[svcRef{s.Namespace, s.Name}] = s
	b.mu.Unlock()
	if l := b.listener(); l != nil {
		l.ServiceChanged(s.Namespace, s.Name)
	}
}

// DeleteService removes a service.
func (b *MemoryBackend) DeleteService(namespace, name string) {
	b.change.Lock()
	defer b.change.Unlock()
	b.mu.Lock()
	delete(b.svcs, svcRef{namespace, name})
	b.mu.Unlock()
	if l := b.listener(); l != nil {
		l.ServiceChanged(namespace, name)
	}
}

// SetPod adds or replaces a live pod (for pod and PTR records).
func (b *MemoryBackend) SetPod(p Pod) {
	b.change.Lock()
	defer b.change.Unlock()
	k := svcRef{p.Namespace, p.Name}
	b.mu.Lock()
	old, had := b.pods[k]
	if had {
		b.unindex(old.IP, k)
	}
	b.pods[k] = p
	if b.byIP[p.IP] == nil {
		b.byIP[p.IP] = map[svcRef]struct{}{}
	}
	b.byIP[p.IP][k] = struct{}{}
	b.mu.Unlock()
	if l := b.listener(); l != nil {
		if had && old.IP != p.IP {
			l.PodIPChanged(old.IP)
		}
		l.PodIPChanged(p.IP)
	}
}

// DeletePod removes a pod.
func (b *MemoryBackend) DeletePod(namespace, name string) {
	b.change.Lock()
	defer b.change.Unlock()
	k := svcRef{namespace, name}
	b.mu.Lock()
	old, had := b.pods[k]
	delete(b.pods, k)
	if had {
		b.unindex(old.IP, k)
	}
	b.mu.Unlock()
	if l := b.listener(); l != nil && had {
		l.PodIPChanged(old.IP)
	}
}

// Services implements Backend.
func (b *MemoryBackend) Services() []Service {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]Service, 0, len(b.svcs))
	for _, s := range b.svcs {
		out = append(out, s)
	}
	return out
}

// Service implements Backend.
func (b *MemoryBackend) Service(namespace, name string) (Service, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s, ok := b.svcs[svcRef{namespace, name}]
	return s, ok
}

// PodIPs implements Backend.
func (b *MemoryBackend) PodIPs() []netip.Addr {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]netip.Addr, 0, len(b.byIP))
	for ip := range b.byIP {
		out = append(out, ip)
	}
	return out
}

// PodsByIP implements Backend.
func (b *MemoryBackend) PodsByIP(ip netip.Addr) []Pod {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []Pod
	for k := range b.byIP[ip] {
		out = append(out, b.pods[k])
	}
	return out
}

func (b *MemoryBackend) unindex(ip netip.Addr, k svcRef) {
	delete(b.byIP[ip], k)
	if len(b.byIP[ip]) == 0 {
		delete(b.byIP, ip)
	}
}
