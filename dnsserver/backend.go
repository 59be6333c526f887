package dnsserver

import (
	"context"
	"maps"
	"net/netip"
	"slices"
)

// Backend is the cluster state that DNS answers come from, in the terms DNS
// needs: services with their ready endpoints, and live pods by IP. It plays
// the part of CoreDNS's ServiceBackend, but pushes changes instead of being
// asked per query, so the zone can pack answers ahead of time.
type Backend interface {
	// Run feeds l with changes until ctx ends. It calls synced once, when
	// its first full state is loaded; calls to l before that may be
	// ignored, since the zone builds everything at that point.
	Run(ctx context.Context, l Listener, synced func()) error
	// Services lists every service, for a full build of the zone.
	Services() []Service
	// Service returns one service and its current ready endpoints.
	Service(namespace, name string) (Service, bool)
	// PodIPs lists every IP held by a live pod, for a full build.
	PodIPs() []netip.Addr
	// PodsByIP returns the live pods holding ip (normally one; two for a
	// moment while a pod is replaced).
	PodsByIP(ip netip.Addr) []Pod
}

// Listener hears about changes. The backend calls it synchronously from
// the goroutine that applied the change, after the change is visible
// through the Backend's getters and before the next change is applied;
// that is what lets the zone promise answers no older than one event.
type Listener interface {
	// ServiceChanged says that a service, its ports or the set of its
	// ready endpoints may have changed (or that it was deleted).
	ServiceChanged(namespace, name string)
	// PodIPChanged says that the live pods holding ip may have changed.
	PodIPChanged(ip netip.Addr)
}

// Service is a service as DNS sees it.
type Service struct {
	Namespace, Name string
	Ports           []Port
	// ClusterIP is the service's virtual IP; invalid for a headless
	// service, whose name resolves to its endpoints instead.
	ClusterIP netip.Addr
	// Endpoints are the ready pods behind the service, sorted by IP.
	Endpoints []Endpoint
}

// Port is one of a service's ports.
type Port struct {
	Name     string // "" for an unnamed port: no _<name>._<proto> record
	Protocol string // "tcp" or "udp", lower case
	Port     uint16
}

// Endpoint is one ready pod behind a service.
type Endpoint struct {
	IP  netip.Addr
	Pod string // pod name, for logs and tests
	// Hostname, when set, names the endpoint HOSTNAME.SVC.NS.svc.DOMAIN
	// instead of its dashed IP (a pod whose subdomain is the service).
	Hostname string
	// Ports are the ports the pod serves the service's ports on (their
	// targetPorts, resolved), by service port name. SRV records of a
	// headless service carry these, as CoreDNS's do: a client following
	// them connects where the pod listens. Nil: the service's own ports.
	Ports map[string]uint16
}

// port is where ep serves the service port p; false when it does not.
func (ep Endpoint) port(p Port) (uint16, bool) {
	if ep.Ports == nil {
		return p.Port, true
	}
	n, ok := ep.Ports[p.Name]
	return n, ok
}

func endpointsEqual(a, b []Endpoint) bool {
	return slices.EqualFunc(a, b, func(x, y Endpoint) bool {
		return x.IP == y.IP && x.Pod == y.Pod && x.Hostname == y.Hostname && maps.Equal(x.Ports, y.Ports)
	})
}

// Pod is a live pod as DNS sees it.
type Pod struct {
	Namespace, Name string
	IP              netip.Addr
}
