package validation

import (
	"net/netip"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// defaultEndpoints fills in the address type and the ports' protocol.
func defaultEndpoints(ep *skiffv1.Endpoints) {
	for _, s := range ep.GetSlices() {
		if s.AddressType == "" {
			s.AddressType = "IPv4"
		}
		for _, p := range s.GetPorts() {
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
		}
	}
}

// validateEndpoints checks what DNS and the CLI rely on: addresses are IPv4
// addresses, ports are in range with a known protocol, and a ready endpoint
// is not terminating.
func validateEndpoints(e *errs, ep *skiffv1.Endpoints) {
	for i, s := range ep.GetSlices() {
		path := idx("slices", i)
		checkOneOf(e, path+".addressType", s.GetAddressType(), "IPv4")
		names := map[string]bool{}
		for j, p := range s.GetPorts() {
			pp := idx(path+".ports", j)
			checkPort(e, pp+".port", p.GetPort(), true)
			checkOneOf(e, pp+".protocol", p.GetProtocol(), "TCP", "UDP")
			if names[p.GetName()] {
				e.add(pp+".name", "%q is used by another port", p.GetName())
			}
			names[p.GetName()] = true
		}
		for j, end := range s.GetEndpoints() {
			epPath := idx(path+".endpoints", j)
			if len(end.GetAddresses()) == 0 {
				e.add(epPath+".addresses", "required")
			}
			for k, a := range end.GetAddresses() {
				if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
					e.add(idx(epPath+".addresses", k), "%q is not an IPv4 address", a)
				}
			}
			if c := end.GetConditions(); c.GetReady() && c.GetTerminating() {
				e.add(epPath+".conditions", "a terminating endpoint is not ready")
			}
			if r := end.GetTargetRef(); r != nil && r.GetName() == "" {
				e.add(epPath+".targetRef.name", "required")
			}
		}
	}
}
