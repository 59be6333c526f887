package network

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SetPeerRoutes makes the host-gw routes to other nodes' pod CIDRs exactly
// routes: missing ones are added, ones with another gateway replaced, and
// routes of ours (protocol RouteProtocol, unicast, main table) that are not
// in the list removed. Routes of any other protocol are never touched, nor
// is the cluster blackhole. Each CIDR must lie inside the cluster CIDR and
// not be this node's; each Via must be outside the cluster CIDR and
// reachable on a directly connected network of the node.
func (n *Network) SetPeerRoutes(routes []PeerRoute) error {
	want := map[netip.Prefix]netip.Addr{}
	for _, r := range routes {
		cidr := r.CIDR.Masked()
		switch {
		case !cidr.IsValid() || !cidr.Addr().Is4():
			return fmt.Errorf("network: peer route %v: need an IPv4 CIDR", r.CIDR)
		case !n.cfg.ClusterCIDR.Contains(cidr.Addr()) || cidr.Bits() < n.cfg.ClusterCIDR.Bits():
			return fmt.Errorf("network: peer route %v: not inside cluster CIDR %v", cidr, n.cfg.ClusterCIDR)
		case cidr.Overlaps(n.cfg.PodCIDR):
			return fmt.Errorf("network: peer route %v: overlaps this node's pod CIDR %v", cidr, n.cfg.PodCIDR)
		case !r.Via.IsValid() || !r.Via.Is4():
			return fmt.Errorf("network: peer route %v: gateway %v: need an IPv4 address", cidr, r.Via)
		case n.cfg.ClusterCIDR.Contains(r.Via):
			return fmt.Errorf("network: peer route %v: gateway %v is inside the cluster CIDR", cidr, r.Via)
		}
		if old, dup := want[cidr]; dup && old != r.Via {
			return fmt.Errorf("network: peer route %v: given twice (via %v and %v)", cidr, old, r.Via)
		}
		want[cidr] = r.Via
	}

	have, err := n.ownRoutes()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range have {
		dst, gw, ok := routeKey(r)
		if ok {
			if via, keep := want[dst]; keep && via == gw {
				delete(want, dst) // already right
				continue
			}
		}
		if err := n.host.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("network: remove peer route %v: %w", r.Dst, err))
		}
	}
	for cidr, via := range want {
		r := &netlink.Route{
			Dst:      prefixToIPNet(cidr),
			Gw:       via.AsSlice(),
			Protocol: RouteProtocol,
			Table:    unix.RT_TABLE_MAIN,
			Type:     unix.RTN_UNICAST,
		}
		if err := n.host.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("network: peer route %v via %v: %w", cidr, via, err))
		}
	}
	return errors.Join(errs...)
}

// PeerRoutes returns the host-gw routes of ours now in place.
func (n *Network) PeerRoutes() ([]PeerRoute, error) {
	have, err := n.ownRoutes()
	if err != nil {
		return nil, err
	}
	var out []PeerRoute
	for _, r := range have {
		if dst, gw, ok := routeKey(r); ok {
			out = append(out, PeerRoute{CIDR: dst, Via: gw})
		}
	}
	return out, nil
}

// ownRoutes lists our unicast routes in the main table (the blackhole is
// another type and is left out).
func (n *Network) ownRoutes() ([]netlink.Route, error) {
	filter := &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST}
	mask := netlink.RT_FILTER_PROTOCOL | netlink.RT_FILTER_TABLE | netlink.RT_FILTER_TYPE
	rs, err := n.host.RouteListFiltered(unix.AF_INET, filter, mask)
	if errors.Is(err, netlink.ErrDumpInterrupted) {
		rs, err = n.host.RouteListFiltered(unix.AF_INET, filter, mask)
	}
	if err != nil {
		return nil, fmt.Errorf("network: list peer routes: %w", err)
	}
	return rs, nil
}

func routeKey(r netlink.Route) (netip.Prefix, netip.Addr, bool) {
	if r.Dst == nil || r.Gw == nil {
		return netip.Prefix{}, netip.Addr{}, false
	}
	ip, ok1 := netip.AddrFromSlice(r.Dst.IP.To4())
	gw, ok2 := netip.AddrFromSlice(r.Gw.To4())
	ones, bits := r.Dst.Mask.Size()
	if !ok1 || !ok2 || bits != 32 {
		return netip.Prefix{}, netip.Addr{}, false
	}
	return netip.PrefixFrom(ip, ones), gw, true
}
