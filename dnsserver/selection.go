package dnsserver

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// This file turns API objects into DNS's view of them. It is the one place
// that decides which pods are behind a service, so the informer backend and
// the tests agree.

// podIP is the pod's IP when the pod is live: it has an address, is not
// being deleted, and has not finished. A finished or deleting pod's IP may
// already belong to someone else.
func podIP(p *skiffv1.Pod) (netip.Addr, bool) {
	if p == nil || p.GetMetadata().GetDeletionTimestamp() != nil {
		return netip.Addr{}, false
	}
	switch p.GetStatus().GetPhase() {
	case skiffv1.PodSucceeded, skiffv1.PodFailed:
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(p.GetStatus().GetPodIp())
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// podReady reports whether p is live and its Ready condition is True:
// only those pods are served for a service.
func podReady(p *skiffv1.Pod) bool {
	if _, ok := podIP(p); !ok {
		return false
	}
	return skiffv1.IsPodReady(p)
}

// selects reports whether a service's selector picks a pod. A service
// without a selector picks nothing: as in Kubernetes, its endpoints would be
// managed by hand, which skiff does not do.
func selects(svc *skiffv1.Service, p *skiffv1.Pod) bool {
	sel := svc.GetSpec().GetSelector()
	if len(sel) == 0 || p.GetMetadata().GetNamespace() != svc.GetMetadata().GetNamespace() {
		return false
	}
	return labels.SelectorFromSet(sel).Matches(p.GetMetadata().GetLabels())
}

// servicePorts converts a service's ports; out-of-range ones are dropped
// (validation should have refused them).
func servicePorts(svc *skiffv1.Service) []Port {
	var out []Port
	for _, p := range svc.GetSpec().GetPorts() {
		if p.GetPort() <= 0 || p.GetPort() > 65535 {
			continue
		}
		proto := strings.ToLower(p.GetProtocol())
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, Port{Name: strings.ToLower(p.GetName()), Protocol: proto, Port: uint16(p.GetPort())})
	}
	return out
}

// serviceView builds DNS's view of svc from the candidate pods (any
// superset of the pods it selects).
func serviceView(svc *skiffv1.Service, candidates []*skiffv1.Pod) Service {
	out := Service{
		Namespace: svc.GetMetadata().GetNamespace(),
		Name:      svc.GetMetadata().GetName(),
		Ports:     servicePorts(svc),
	}
	seen := map[netip.Addr]bool{}
	for _, p := range candidates {
		if !selects(svc, p) || !podReady(p) {
			continue
		}
		ip, _ := podIP(p)
		if seen[ip] {
			continue
		}
		seen[ip] = true
		out.Endpoints = append(out.Endpoints, Endpoint{IP: ip, Pod: p.GetMetadata().GetName()})
	}
	sortEndpoints(out.Endpoints)
	return out
}

func sortEndpoints(eps []Endpoint) {
	slices.SortFunc(eps, func(a, b Endpoint) int { return a.IP.Compare(b.IP) })
}
