// Package dnsserver is skiff's cluster DNS: it answers
// <svc>.<ns>.svc.<domain> with the IPs of the ready endpoints of a service
// (its Endpoints object, kept by the endpoints controller),
// SRV records for its named ports, <a-b-c-d>.<ns>.pod.<domain> and PTR
// records for pod IPs, and forwards every other name to upstream resolvers.
//
// The shape follows CoreDNS: a request runs through an ordered chain of small
// handlers (metrics → guard → any → cluster → cache → forward), and the
// cluster handler reads a Backend, the way CoreDNS's kubernetes plugin reads
// its ServiceBackend. Two Backends exist: one fed by the API server's watch
// through client informers (production), one filled by hand (tests, bench).
//
// Speed comes from the zone: every answer the cluster handler can give is
// packed to wire format when the backend reports a change, so serving a
// query is a map lookup, a copy and a patch of the ID and the question. A
// change is re-packed synchronously inside the watch event that carried it,
// so an answer never lags the backend by more than that one event.
//
// UDP and TCP are served by small loops of our own on top of the standard
// library; github.com/miekg/dns provides the record types, packing and
// unpacking for everything that is not on the hot path, and the upstream
// client.
package dnsserver
