package network

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Teardown removes what agents of skiff made in the network namespace at
// netnsPath (empty: the caller's own), from what is there rather than from
// any agent's state: host veths carrying our alias, the bridge, every
// route of RouteProtocol (the blackhole and host-gw peer routes), the
// service bridge and its rule, and the masquerade table. Links and routes of anyone else are left alone. It
// returns one line per thing removed; nothing there is not an error.
func Teardown(netnsPath, bridge string) (removed []string, err error) {
	if bridge == "" {
		bridge = DefaultBridge
	}
	h, err := handleAt(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("network: teardown: %w", err)
	}
	defer h.Close()
	var errs []error
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		errs = append(errs, fmt.Errorf("network: teardown: list links: %w", err))
	}
	for _, l := range links {
		a := l.Attrs()
		ours := strings.HasPrefix(a.Alias, aliasPrefix) && l.Type() == "veth"
		if a.Name == bridge {
			if _, isBridge := l.(*netlink.Bridge); !isBridge {
				errs = append(errs, fmt.Errorf("network: teardown: %s is a %s, not skiff's bridge: left alone", a.Name, l.Type()))
				continue
			}
			ours = true
		}
		if !ours {
			continue
		}
		if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("network: teardown: delete %s: %w", a.Name, err))
			continue
		}
		removed = append(removed, fmt.Sprintf("%s %s", l.Type(), a.Name))
	}
	filter := &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_UNSPEC}
	routes, err := h.RouteListFiltered(unix.AF_INET, filter, netlink.RT_FILTER_PROTOCOL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		errs = append(errs, fmt.Errorf("network: teardown: list routes: %w", err))
	}
	for _, r := range routes {
		if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("network: teardown: delete route %v: %w", r.Dst, err))
			continue
		}
		removed = append(removed, "route "+describeRoute(r))
	}
	if r, err := removeServiceRoute(h); err != nil {
		errs = append(errs, err)
	} else {
		removed = append(removed, r...)
	}
	if ok, err := hasMasqTable(netnsPath); err != nil {
		errs = append(errs, err)
	} else if ok {
		if err := RemoveMasquerade(netnsPath); err != nil {
			errs = append(errs, err)
		} else {
			removed = append(removed, "nftables table ip "+MasqTable)
		}
	}
	if ok, err := RemoveHostPortTable(netnsPath); err != nil {
		errs = append(errs, err)
	} else if ok {
		removed = append(removed, "nftables table ip "+HostPortTable)
	}
	return removed, errors.Join(errs...)
}

// hasMasqTable says whether the namespace has a table of MasqTable's name,
// whatever is in it: the name is skiff's alone.
func hasMasqTable(netnsPath string) (ok bool, err error) {
	err = withNFT(netnsPath, func(c *nftables.Conn) error {
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("network: list nftables tables: %w", err)
		}
		for _, t := range tables {
			ok = ok || t.Name == MasqTable
		}
		return nil
	})
	return ok, err
}

func describeRoute(r netlink.Route) string {
	dst := "default"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	switch {
	case r.Type == unix.RTN_BLACKHOLE:
		return "blackhole " + dst
	case r.Gw != nil:
		return dst + " via " + r.Gw.String()
	}
	return dst
}
