package proxy

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// clearStaleUDP deletes the conntrack entries of UDP flows still
// translated as old did and next does not (staleUDP), in the namespace at
// path (empty: the caller's own): to a ClusterIP and port, or to a node
// port, answered by an endpoint no longer behind it. The next datagram of such a flow is
// translated afresh, to a current endpoint. It returns how many entries
// went.
func clearStaleUDP(path string, old, next []ServicePort) (uint, error) {
	stale := staleUDP(old, next)
	if len(stale) == 0 {
		return 0, nil
	}
	var filters []netlink.CustomConntrackFilter
	for _, s := range stale {
		d := flowDst{Port: s.Port}
		if s.Dst.IsValid() {
			d.IP = net.IP(s.Dst.AsSlice())
		}
		f, err := udpFilter(net.IP(s.Endpoint.AsSlice()), d)
		if err != nil {
			return 0, err
		}
		filters = append(filters, f)
	}
	h, err := handleAt(path)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
	if err != nil {
		return n, fmt.Errorf("proxy: delete stale UDP conntrack entries: %w", err)
	}
	return n, nil
}

// flowDst is the original destination a flow's filter matches: the
// address when set, and the port.
type flowDst struct {
	IP   net.IP
	Port uint16
}

// udpFilter matches UDP flows to dst whose reply comes from endpoint (the
// address the flow was translated to).
func udpFilter(endpoint net.IP, dst flowDst) (*netlink.ConntrackFilter, error) {
	f := &netlink.ConntrackFilter{}
	if err := f.AddProtocol(protoUDP); err != nil {
		return nil, err
	}
	if err := f.AddIP(netlink.ConntrackReplySrcIP, endpoint); err != nil {
		return nil, err
	}
	if dst.IP != nil {
		if err := f.AddIP(netlink.ConntrackOrigDstIP, dst.IP); err != nil {
			return nil, err
		}
	}
	if err := f.AddPort(netlink.ConntrackOrigDstPort, dst.Port); err != nil {
		return nil, err
	}
	return f, nil
}

// handleAt opens a netlink handle in the namespace at path (empty: the
// caller's own).
func handleAt(path string) (*netlink.Handle, error) {
	if path == "" {
		return netlink.NewHandle(unix.NETLINK_NETFILTER)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("proxy: network namespace %s: %w", path, err)
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
}
