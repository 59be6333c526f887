package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Network is a node's pod network, made ready by Setup.
type Network struct {
	cfg   Config
	ipam  *IPAM
	host  *netlink.Handle // rtnetlink socket in cfg.HostNetNS
	locks keyLocks
}

// Setup makes the node ready for pods, in cfg.HostNetNS: the bridge with
// the gateway address (the first of PodCIDR), up; IPv4 forwarding on; a
// blackhole route for ClusterCIDR. It keeps whatever is already right, so
// calling it again (an agent restart) leaves running pods connected.
// Close the Network when done with it; Close removes nothing.
func Setup(cfg Config) (*Network, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ipam, err := NewIPAM(cfg.StateDir, cfg.PodCIDR)
	if err != nil {
		return nil, err
	}
	if cfg.LegacyStateDir != "" {
		if err := ipam.Adopt(cfg.LegacyStateDir); err != nil {
			return nil, err
		}
	}
	h, err := handleAt(cfg.HostNetNS)
	if err != nil {
		return nil, fmt.Errorf("network: setup: %w", err)
	}
	n := &Network{cfg: cfg, ipam: ipam, host: h}
	if err := n.setup(); err != nil {
		h.Close()
		return nil, err
	}
	return n, nil
}

// Close releases the netlink socket. Pods stay attached.
func (n *Network) Close() error {
	n.host.Close()
	return nil
}

// IPAM is the address allocator the Network uses.
func (n *Network) IPAM() *IPAM { return n.ipam }

// Gateway is the bridge's address, every pod's default gateway.
func (n *Network) Gateway() netip.Addr { return n.ipam.Gateway() }

func (n *Network) setup() error {
	br, err := n.ensureBridge()
	if err != nil {
		return err
	}
	if err := n.ensureBridgeAddr(br); err != nil {
		return err
	}
	if err := inNetNS(n.cfg.HostNetNS, func() error {
		return writeSysctl("net/ipv4/ip_forward", "1")
	}); err != nil {
		return fmt.Errorf("network: setup: enable forwarding: %w", err)
	}
	return n.ensureBlackhole()
}

// ensureBridge finds or makes the bridge, with the MTU and a MAC of our
// choosing (a bridge without one takes the lowest MAC of its ports and
// changes it as pods come and go, which makes every pod's ARP entry for
// the gateway go stale), and brings it up.
func (n *Network) ensureBridge() (netlink.Link, error) {
	name := n.cfg.BridgeName
	mac := macForIP(n.Gateway())
	link, err := n.host.LinkByName(name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: n.cfg.MTU, HardwareAddr: mac}}
		if err := n.host.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("network: create bridge %s: %w", name, err)
		}
		if link, err = n.host.LinkByName(name); err != nil {
			return nil, fmt.Errorf("network: bridge %s: %w", name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("network: bridge %s: %w", name, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return nil, fmt.Errorf("network: %s is a %s, not a bridge", name, link.Type())
	}
	attrs := link.Attrs()
	if attrs.MTU != n.cfg.MTU {
		if err := n.host.LinkSetMTU(link, n.cfg.MTU); err != nil {
			return nil, fmt.Errorf("network: bridge %s: set MTU %d: %w", name, n.cfg.MTU, err)
		}
	}
	if attrs.HardwareAddr.String() != mac.String() {
		if err := n.host.LinkSetHardwareAddr(link, mac); err != nil {
			return nil, fmt.Errorf("network: bridge %s: set MAC %s: %w", name, mac, err)
		}
	}
	if attrs.Flags&net.FlagUp == 0 {
		if err := n.host.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("network: bridge %s: up: %w", name, err)
		}
	}
	return link, nil
}

// ensureBridgeAddr puts the gateway address on the bridge and removes any
// other address of the cluster CIDR from it (left by an earlier pod CIDR
// of this node; pods of that CIDR cannot work any more anyway).
func (n *Network) ensureBridgeAddr(br netlink.Link) error {
	want := &netlink.Addr{IPNet: &net.IPNet{
		IP:   n.Gateway().AsSlice(),
		Mask: net.CIDRMask(n.cfg.PodCIDR.Bits(), 32),
	}}
	addrs, err := n.host.AddrList(br, unix.AF_INET)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("network: bridge %s: list addresses: %w", n.cfg.BridgeName, err)
	}
	have := false
	for _, a := range addrs {
		if a.IPNet.String() == want.IPNet.String() {
			have = true
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if ok && n.cfg.ClusterCIDR.Contains(ip) {
			if err := n.host.AddrDel(br, &a); err != nil {
				return fmt.Errorf("network: bridge %s: remove stale address %s: %w", n.cfg.BridgeName, a.IPNet, err)
			}
		}
	}
	if have {
		return nil // AddrReplace would be harmless too; skip the syscall
	}
	if err := n.host.AddrReplace(br, want); err != nil {
		return fmt.Errorf("network: bridge %s: add address %s: %w", n.cfg.BridgeName, want.IPNet, err)
	}
	return nil
}

// ensureBlackhole routes the whole cluster CIDR into a blackhole: without
// it, traffic for another node's pods (or a typo'd pod IP) would follow the
// default route out of the machine. The node's own /24 on the bridge and
// host-gw peer routes are more specific and win.
// The service CIDR gets one as well: only the proxy's DNAT, before
// routing, makes a ClusterIP go anywhere (for the node's own processes,
// see EnsureServiceRoute).
func (n *Network) ensureBlackhole() error {
	for _, p := range []netip.Prefix{n.cfg.ClusterCIDR, n.cfg.ServiceCIDR} {
		if !p.IsValid() {
			continue
		}
		if err := n.host.RouteReplace(blackholeRoute(p)); err != nil {
			return fmt.Errorf("network: blackhole route %v: %w", p, err)
		}
	}
	if n.cfg.ServiceCIDR.IsValid() {
		return EnsureServiceRoute(n.host, n.cfg.ServiceCIDR)
	}
	return nil
}

func blackholeRoute(p netip.Prefix) *netlink.Route {
	return &netlink.Route{
		Dst:      prefixToIPNet(p),
		Type:     unix.RTN_BLACKHOLE,
		Protocol: RouteProtocol,
		Table:    unix.RT_TABLE_MAIN,
	}
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
