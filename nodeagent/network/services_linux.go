package network

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A process on the node connecting to a ClusterIP would be refused by the
// service CIDR's blackhole route before the proxy's DNAT (nftables' output
// hook) ever sees a packet: a socket routes at connect time. So traffic
// the node itself originates (`iif lo` in a policy rule) looks the service
// CIDR up in a table of its own, where it goes to ServiceLink, a bridge
// with no ports: the connection starts, the output hook translates the
// packet and it is routed again to the endpoint. A packet no rule
// translates dies in the empty bridge. Forwarded traffic (pods) still
// meets the blackhole, and nothing leaves the machine either way.
const (
	// ServiceLink is the port-less bridge the node's own service traffic
	// is routed to before translation.
	ServiceLink = "skiff-svc"
	// ServiceTable is the routing table holding the service CIDR's route
	// to ServiceLink.
	ServiceTable = 2946
	// ServiceRulePriority places the rule before the main table (32766).
	ServiceRulePriority = 2946
)

// EnsureServiceRoute makes the service CIDR reachable from the node's own
// processes through the proxy (see ServiceLink), keeping what is right.
func EnsureServiceRoute(h *netlink.Handle, cidr netip.Prefix) error {
	link, err := h.LinkByName(ServiceLink)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: ServiceLink}}
		if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network: service link %s: %w", ServiceLink, err)
		}
		if link, err = h.LinkByName(ServiceLink); err != nil {
			return fmt.Errorf("network: service link %s: %w", ServiceLink, err)
		}
	case err != nil:
		return fmt.Errorf("network: service link %s: %w", ServiceLink, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return fmt.Errorf("network: %s is a %s, not skiff's service bridge", ServiceLink, link.Type())
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("network: service link %s up: %w", ServiceLink, err)
	}
	if err := h.RouteReplace(&netlink.Route{
		Dst: prefixToIPNet(cidr), LinkIndex: link.Attrs().Index, Table: ServiceTable,
		Protocol: RouteProtocol, Scope: netlink.SCOPE_LINK,
	}); err != nil {
		return fmt.Errorf("network: service CIDR %v route in table %d: %w", cidr, ServiceTable, err)
	}
	rules, err := h.RuleList(unix.AF_INET)
	if err != nil {
		return fmt.Errorf("network: list rules: %w", err)
	}
	want := serviceRule(cidr)
	for _, r := range rules {
		if isServiceRule(r) {
			if r.Dst != nil && r.Dst.String() == want.Dst.String() {
				return nil
			}
			// The service CIDR changed: replace ours.
			if err := h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("network: delete stale service rule: %w", err)
			}
		}
	}
	if err := h.RuleAdd(want); err != nil {
		return fmt.Errorf("network: rule for the node's own service traffic: %w", err)
	}
	return nil
}

func serviceRule(cidr netip.Prefix) *netlink.Rule {
	r := netlink.NewRule()
	r.Family = unix.AF_INET
	r.Dst = prefixToIPNet(cidr)
	r.IifName = "lo"
	r.Table = ServiceTable
	r.Priority = ServiceRulePriority
	r.Protocol = RouteProtocol
	return r
}

func isServiceRule(r netlink.Rule) bool {
	return r.Table == ServiceTable && r.Priority == ServiceRulePriority && r.IifName == "lo"
}

// removeServiceRoute deletes the rule and the link (and so its route),
// saying what it removed.
func removeServiceRoute(h *netlink.Handle) (removed []string, err error) {
	var errs []error
	rules, err := h.RuleList(unix.AF_INET)
	if err != nil {
		errs = append(errs, fmt.Errorf("network: teardown: list rules: %w", err))
	}
	for _, r := range rules {
		if !isServiceRule(r) {
			continue
		}
		if err := h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("network: teardown: delete service rule: %w", err))
			continue
		}
		removed = append(removed, fmt.Sprintf("rule to %v iif lo lookup %d", r.Dst, ServiceTable))
	}
	link, err := h.LinkByName(ServiceLink)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		errs = append(errs, fmt.Errorf("network: teardown: %s: %w", ServiceLink, err))
	default:
		if _, ok := link.(*netlink.Bridge); !ok {
			errs = append(errs, fmt.Errorf("network: teardown: %s is a %s, not skiff's service bridge: left alone", ServiceLink, link.Type()))
		} else if err := h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("network: teardown: delete %s: %w", ServiceLink, err))
		} else {
			removed = append(removed, "bridge "+ServiceLink)
		}
	}
	return removed, errors.Join(errs...)
}
