package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/skiff-sh/skiff/defaults"
)

// RouteProtocol marks the routes this package owns (the blackhole route
// and host-gw peer routes), so it never touches routes made by anyone else.
// 115 is unassigned in iproute2's rt_protos; `ip route show proto 115`
// lists ours.
const RouteProtocol = 115

// DefaultBridge is the node bridge's name unless Config says otherwise.
const DefaultBridge = defaults.Bridge

// DefaultMTU is the pod and bridge MTU unless Config says otherwise.
const DefaultMTU = 1500

// Errors callers may test for with errors.Is.
var (
	// ErrExhausted: the node's pod CIDR has no free address.
	ErrExhausted = errors.New("no free address in pod CIDR")
	// ErrNotAttached: the pod has no address on this node.
	ErrNotAttached = errors.New("pod not attached")
	// ErrCIDRChanged: the state dir holds allocations of another CIDR.
	ErrCIDRChanged = errors.New("pod CIDR differs from the one in the state dir")
)

// Config describes one node's pod network.
type Config struct {
	// PodCIDR is this node's share of the cluster CIDR, e.g. 10.88.3.0/24.
	PodCIDR netip.Prefix
	// ClusterCIDR holds every node's PodCIDR, e.g. 10.88.0.0/16. It gets a
	// blackhole route.
	ClusterCIDR netip.Prefix
	// ServiceCIDR holds every Service's ClusterIP; it gets a blackhole
	// route too, so that an address no proxy rule translates goes nowhere
	// (optional).
	ServiceCIDR netip.Prefix
	// BridgeName defaults to DefaultBridge.
	BridgeName string
	// StateDir keeps the IPAM state; it must survive agent restarts. Its
	// addresses are held by pods' network namespaces, which a reboot
	// ends, so it belongs on a tmpfs (the agent's run directory).
	StateDir string
	// LegacyStateDir is where an older agent kept the IPAM state (on
	// disk); its allocations are moved into StateDir at Setup, so pods
	// that kept running through the upgrade keep their addresses
	// (optional).
	LegacyStateDir string
	// MTU of the bridge and every veth; 0 means DefaultMTU.
	MTU int
	// HostNetNS is the path of the network namespace to act in (the
	// "node"); empty means the calling process's own.
	HostNetNS string
}

func (c Config) withDefaults() Config {
	if c.BridgeName == "" {
		c.BridgeName = DefaultBridge
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	c.PodCIDR = c.PodCIDR.Masked()
	c.ClusterCIDR = c.ClusterCIDR.Masked()
	c.ServiceCIDR = c.ServiceCIDR.Masked()
	return c
}

func (c Config) validate() error {
	if !c.PodCIDR.IsValid() || !c.PodCIDR.Addr().Is4() {
		return fmt.Errorf("network: pod CIDR %v: need an IPv4 prefix", c.PodCIDR)
	}
	if c.PodCIDR.Bits() > 30 {
		return fmt.Errorf("network: pod CIDR %v: too small, need /30 or larger", c.PodCIDR)
	}
	if !c.ClusterCIDR.IsValid() || !c.ClusterCIDR.Addr().Is4() {
		return fmt.Errorf("network: cluster CIDR %v: need an IPv4 prefix", c.ClusterCIDR)
	}
	if c.ClusterCIDR.Bits() > c.PodCIDR.Bits() || !c.ClusterCIDR.Contains(c.PodCIDR.Addr()) {
		return fmt.Errorf("network: pod CIDR %v is not inside cluster CIDR %v", c.PodCIDR, c.ClusterCIDR)
	}
	if c.ServiceCIDR.IsValid() && (!c.ServiceCIDR.Addr().Is4() || c.ServiceCIDR.Overlaps(c.ClusterCIDR)) {
		return fmt.Errorf("network: service CIDR %v: need an IPv4 prefix apart from the cluster CIDR %v", c.ServiceCIDR, c.ClusterCIDR)
	}
	if c.BridgeName == "" || len(c.BridgeName) > 15 {
		return fmt.Errorf("network: bridge name %q: need 1 to 15 characters", c.BridgeName)
	}
	if c.StateDir == "" {
		return errors.New("network: state dir is required")
	}
	if c.MTU < 68 || c.MTU > 65535 {
		return fmt.Errorf("network: MTU %d out of range", c.MTU)
	}
	return nil
}

// Attachment is one pod's place on the node network.
type Attachment struct {
	PodID     string
	IP        netip.Addr
	Gateway   netip.Addr
	PrefixLen int
	// HostVeth is the host end's name, in the bridge; empty in List when
	// an address is allocated but its veth is gone.
	HostVeth string
	// MAC of the pod's eth0; derived from IP (see macForIP).
	MAC net.HardwareAddr
}

// PeerRoute sends another node's pod CIDR to that node's address (host-gw).
type PeerRoute struct {
	CIDR netip.Prefix
	Via  netip.Addr
}
