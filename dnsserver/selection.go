package dnsserver

import (
	"net/netip"
	"slices"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// This file turns API objects into DNS's view of them. Which pods are behind
// a service comes from its Endpoints object (the endpoints controller
// decides); here only which of them are served.

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

// serviceView builds DNS's view of svc from its Endpoints object (nil when
// there is none yet: no endpoints).
func serviceView(svc *skiffv1.Service, ep *skiffv1.Endpoints) Service {
	out := Service{
		Namespace: svc.GetMetadata().GetNamespace(),
		Name:      svc.GetMetadata().GetName(),
		Ports:     servicePorts(svc),
		Endpoints: readyEndpoints(ep),
	}
	if !skiffv1.IsHeadless(svc) {
		if ip, err := netip.ParseAddr(svc.GetSpec().GetClusterIp()); err == nil {
			out.ClusterIP = ip.Unmap()
		}
	}
	return out
}

// readyEndpoints are the addresses of ep's ready endpoints, once each,
// sorted by IP. Only ready ones are served: a pod that fails its readiness
// probe or is terminating drops out of the answers at once.
func readyEndpoints(ep *skiffv1.Endpoints) []Endpoint {
	var out []Endpoint
	seen := map[netip.Addr]bool{}
	for _, s := range ep.GetSlices() {
		// Never nil: a slice without ports serves none of the service's.
		ports := map[string]uint16{}
		for _, p := range s.GetPorts() {
			if p.GetPort() > 0 && p.GetPort() <= 65535 {
				ports[strings.ToLower(p.GetName())] = uint16(p.GetPort())
			}
		}
		for _, e := range s.GetEndpoints() {
			if !e.GetConditions().GetReady() {
				continue
			}
			for _, a := range e.GetAddresses() {
				ip, err := netip.ParseAddr(a)
				if err != nil || seen[ip.Unmap()] {
					continue
				}
				seen[ip.Unmap()] = true
				out = append(out, Endpoint{IP: ip.Unmap(), Pod: e.GetTargetRef().GetName(), Hostname: e.GetHostname(), Ports: ports})
			}
		}
	}
	sortEndpoints(out)
	return out
}

func sortEndpoints(eps []Endpoint) {
	slices.SortFunc(eps, func(a, b Endpoint) int { return a.IP.Compare(b.IP) })
}
