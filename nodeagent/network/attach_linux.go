package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// podIfName is the pod end's name inside the pod.
const podIfName = "eth0"

// Attach connects the pod whose network namespace is pinned at netnsPath:
// an address from IPAM, a veth pair with the host end in the bridge and
// the pod end as eth0 (MAC derived from the address), lo up, a default
// route via the gateway. It is idempotent: for a pod already attached
// (also by an agent before a restart) it checks and repairs the setup and
// returns the same address. On failure it undoes what this call made.
func (n *Network) Attach(ctx context.Context, podID, netnsPath string) (Attachment, error) {
	if err := checkPodID(podID); err != nil {
		return Attachment{}, err
	}
	unlock := n.locks.lock(podID)
	defer unlock()

	ip, fresh, err := n.ipam.allocate(podID)
	if err != nil {
		return Attachment{}, err
	}
	att, created, err := n.attach(ctx, podID, netnsPath, ip)
	if err != nil {
		var undo []error
		if created != "" {
			if derr := n.deleteLink(created); derr != nil {
				undo = append(undo, derr)
			}
		}
		if fresh {
			if rerr := n.ipam.Release(podID); rerr != nil {
				undo = append(undo, rerr)
			}
		}
		return Attachment{}, errors.Join(append([]error{err}, undo...)...)
	}
	return att, nil
}

// attach does Attach's work after allocation; created names the host veth
// if this call made it, for the caller to undo.
func (n *Network) attach(ctx context.Context, podID, netnsPath string, ip netip.Addr) (att Attachment, created string, err error) {
	wrap := func(format string, args ...any) error {
		return fmt.Errorf("network: attach pod %s: "+format, append([]any{podID}, args...)...)
	}
	if netnsPath == "" {
		return att, "", wrap("no netns path given")
	}
	podNS, err := openNetNS(netnsPath)
	if err != nil {
		return att, "", wrap("%w", err)
	}
	defer podNS.Close()
	ph, err := netlink.NewHandleAt(podNS, unix.NETLINK_ROUTE)
	if err != nil {
		return att, "", wrap("netlink in %s: %w", netnsPath, err)
	}
	defer ph.Close()
	br, err := n.host.LinkByName(n.cfg.BridgeName)
	if err != nil {
		return att, "", wrap("bridge %s (was Setup run?): %w", n.cfg.BridgeName, err)
	}
	if err := ctx.Err(); err != nil {
		return att, "", wrap("%w", err)
	}

	hostLink, name, err := n.findHostVeth(podID)
	if err != nil {
		return att, "", wrap("%w", err)
	}
	if hostLink != nil && !isPeerOf(ph, hostLink) {
		// Ours by alias, but its other end is not this pod's eth0 (the
		// sandbox was made again): start over.
		if err := n.deleteLink(name); err != nil {
			return att, "", wrap("%w", err)
		}
		hostLink = nil
	}
	mac := macForIP(ip)
	if hostLink == nil {
		if err := deletePodIf(ph); err != nil {
			return att, "", wrap("in %s: %w", netnsPath, err)
		}
		veth := &netlink.Veth{
			LinkAttrs: netlink.LinkAttrs{
				Name:        name,
				MTU:         n.cfg.MTU,
				MasterIndex: br.Attrs().Index,
			},
			PeerName:         podIfName,
			PeerHardwareAddr: mac,
			PeerMTU:          uint32(n.cfg.MTU),
			PeerNamespace:    netlink.NsFd(podNS),
		}
		if err := n.host.LinkAdd(veth); err != nil {
			return att, "", wrap("create veth %s: %w", name, err)
		}
		created = name
		if hostLink, err = n.host.LinkByName(name); err != nil {
			return att, created, wrap("veth %s: %w", name, err)
		}
		if err := noIPv6Addresses(n.host, hostLink); err != nil {
			return att, created, wrap("veth %s: %w", name, err)
		}
		if err := noIPv6Addresses(ph, nil); err != nil {
			return att, created, wrap("in %s: %s: %w", netnsPath, podIfName, err)
		}
	}
	// The kernel ignores an alias given at creation; set it afterwards.
	// Until then (or after a crash in between) findHostVeth takes an
	// alias-less link under the pod's own name as ours.
	if hostLink.Attrs().Alias != aliasPrefix+podID {
		if err := n.host.LinkSetAlias(hostLink, aliasPrefix+podID); err != nil {
			return att, created, wrap("veth %s: set alias: %w", name, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return att, created, wrap("%w", err)
	}
	if err := n.ensureHostEnd(hostLink, br); err != nil {
		return att, created, wrap("%w", err)
	}
	if err := n.ensurePodEnd(ph, ip, mac); err != nil {
		return att, created, wrap("in %s: %w", netnsPath, err)
	}
	return Attachment{
		PodID:     podID,
		IP:        ip,
		Gateway:   n.Gateway(),
		PrefixLen: n.cfg.PodCIDR.Bits(),
		HostVeth:  name,
		MAC:       mac,
	}, created, nil
}

// noIPv6Addresses keeps the kernel from giving a new veth end (the pod's
// eth0 when link is nil) an IPv6 link-local address when it comes up. Pod
// networks are IPv4: such an address only sets off duplicate address
// detection, multicast listener reports and router solicitations, which
// the bridge floods to every pod's veth, a cost that grows with the
// number of pods (about 5 % of the CPU of a 200-pod burst). The pod's lo
// keeps ::1. A kernel without IPv6 has nothing to turn off.
func noIPv6Addresses(h *netlink.Handle, link netlink.Link) error {
	if link == nil {
		var err error
		if link, err = h.LinkByName(podIfName); err != nil {
			return err
		}
	}
	err := h.LinkSetIP6AddrGenMode(link, nl.IN6_ADDR_GEN_MODE_NONE)
	if errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("no IPv6 link-local address: %w", err)
	}
	return nil
}

// ensureHostEnd keeps the host end in the bridge, in hairpin mode, and
// up. Hairpin, as Kubernetes' bridge plugins set it: a pod that reaches its
// own service is translated back to itself, and with bridge netfilter the
// frame must leave by the port it came in on.
func (n *Network) ensureHostEnd(link, br netlink.Link) error {
	a := link.Attrs()
	if a.MasterIndex != br.Attrs().Index {
		if err := n.host.LinkSetMasterByIndex(link, br.Attrs().Index); err != nil {
			return fmt.Errorf("veth %s into bridge %s: %w", a.Name, n.cfg.BridgeName, err)
		}
	}
	if err := n.host.LinkSetHairpin(link, true); err != nil {
		return fmt.Errorf("veth %s hairpin: %w", a.Name, err)
	}
	if a.Flags&net.FlagUp == 0 {
		if err := n.host.LinkSetUp(link); err != nil {
			return fmt.Errorf("veth %s up: %w", a.Name, err)
		}
	}
	return nil
}

// ensurePodEnd configures the pod's side: eth0 with MAC and address, up;
// lo up; the default route via the gateway.
func (n *Network) ensurePodEnd(ph *netlink.Handle, ip netip.Addr, mac net.HardwareAddr) error {
	eth, err := ph.LinkByName(podIfName)
	if err != nil {
		return fmt.Errorf("%s: %w", podIfName, err)
	}
	if eth.Attrs().HardwareAddr.String() != mac.String() {
		if err := ph.LinkSetHardwareAddr(eth, mac); err != nil {
			return fmt.Errorf("%s: set MAC %s: %w", podIfName, mac, err)
		}
	}
	want := &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(n.cfg.PodCIDR.Bits(), 32)}
	addrs, err := ph.AddrList(eth, unix.AF_INET)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("%s: list addresses: %w", podIfName, err)
	}
	have := false
	for _, a := range addrs {
		if a.IPNet.String() == want.String() {
			have = true
			continue
		}
		if err := ph.AddrDel(eth, &a); err != nil {
			return fmt.Errorf("%s: remove stale address %s: %w", podIfName, a.IPNet, err)
		}
	}
	if !have {
		if err := ph.AddrReplace(eth, &netlink.Addr{IPNet: want}); err != nil {
			return fmt.Errorf("%s: add address %s: %w", podIfName, want, err)
		}
	}
	if eth.Attrs().Flags&net.FlagUp == 0 {
		if err := ph.LinkSetUp(eth); err != nil {
			return fmt.Errorf("%s up: %w", podIfName, err)
		}
	}
	lo, err := ph.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		if err := ph.LinkSetUp(lo); err != nil {
			return fmt.Errorf("lo up: %w", err)
		}
	}
	gw := n.Gateway()
	def := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw.AsSlice(), Scope: netlink.SCOPE_UNIVERSE}
	if err := ph.RouteReplace(def); err != nil {
		return fmt.Errorf("default route via %s dev %s: %w", gw, podIfName, err)
	}
	return nil
}

// Detach removes the pod's veth pair and releases its address. The pod's
// netns may already be gone (netnsPath missing, empty or unmounted): the
// host end and the address are still cleaned up. Idempotent. ctx is not
// consulted: a teardown once begun runs to the end, so no half-detached
// pod keeps an address.
func (n *Network) Detach(ctx context.Context, podID, netnsPath string) error {
	if err := checkPodID(podID); err != nil {
		return err
	}
	unlock := n.locks.lock(podID)
	defer unlock()
	var errs []error
	link, name, err := n.findHostVeth(podID)
	if err != nil {
		errs = append(errs, err)
	} else if link != nil {
		if err := n.deleteLink(name); err != nil {
			errs = append(errs, err)
		}
	}
	// Usually gone with its pair; removes a stale eth0 left by a collision
	// or a half-done attach. A missing netns is no error here.
	if netnsPath != "" {
		if ph, err := handleAt(netnsPath); err == nil {
			if err := deletePodIf(ph); err != nil {
				errs = append(errs, fmt.Errorf("in %s: %w", netnsPath, err))
			}
			ph.Close()
		}
	}
	if err := n.ipam.Release(podID); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("network: detach pod %s: %w", podID, err)
	}
	return nil
}

// Lookup returns the pod's attachment as it stands, without changing
// anything; ErrNotAttached if it has no address. HostVeth is empty if the
// veth is gone (its netns was removed): Attach repairs, Detach cleans up.
func (n *Network) Lookup(podID string) (Attachment, error) {
	if err := checkPodID(podID); err != nil {
		return Attachment{}, err
	}
	ip, ok, err := n.ipam.Get(podID)
	if err != nil {
		return Attachment{}, err
	}
	if !ok {
		return Attachment{}, fmt.Errorf("network: lookup pod %s: %w", podID, ErrNotAttached)
	}
	link, name, err := n.findHostVeth(podID)
	if err != nil {
		return Attachment{}, fmt.Errorf("network: lookup pod %s: %w", podID, err)
	}
	if link == nil {
		name = ""
	}
	return n.attachment(podID, ip, name), nil
}

// List returns every pod known here, sorted by pod ID: those with an
// address, and host veths of ours without one (IP invalid), so an agent
// starting up can detach pods that no longer exist.
func (n *Network) List() ([]Attachment, error) {
	ips, err := n.ipam.List()
	if err != nil {
		return nil, err
	}
	links, err := n.host.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("network: list links: %w", err)
	}
	if errors.Is(err, netlink.ErrDumpInterrupted) {
		// A concurrent change spoilt the dump; one retry is enough for a
		// listing that is advisory anyway.
		if links, err = n.host.LinkList(); err != nil {
			return nil, fmt.Errorf("network: list links: %w", err)
		}
	}
	veths := map[string]string{}
	for _, l := range links {
		if id, ok := strings.CutPrefix(l.Attrs().Alias, aliasPrefix); ok && l.Type() == "veth" {
			veths[id] = l.Attrs().Name
		}
	}
	var out []Attachment
	for _, id := range sortedIDs(ips) {
		out = append(out, n.attachment(id, ips[id], veths[id]))
	}
	for id, name := range veths {
		if _, ok := ips[id]; !ok {
			out = append(out, Attachment{PodID: id, HostVeth: name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PodID < out[j].PodID })
	return out, nil
}

func (n *Network) attachment(podID string, ip netip.Addr, hostVeth string) Attachment {
	return Attachment{PodID: podID, IP: ip, Gateway: n.Gateway(), PrefixLen: n.cfg.PodCIDR.Bits(),
		HostVeth: hostVeth, MAC: macForIP(ip)}
}

// findHostVeth returns the pod's host veth (nil if none) and its name, or
// the name to create it under. Candidates are tried in order; one whose
// alias names another pod is a hash collision and is skipped. It stops at
// the first free name: ours is never made past a free candidate.
func (n *Network) findHostVeth(podID string) (netlink.Link, string, error) {
	for i := range maxVethCandidates {
		name := hostVethName(podID, i)
		link, err := n.host.LinkByName(name)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, name, nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("veth %s: %w", name, err)
		}
		// An empty alias under this pod's own hash name is ours from an
		// attach cut short between create and LinkSetAlias.
		if a := link.Attrs().Alias; a == aliasPrefix+podID || a == "" && link.Type() == "veth" {
			return link, name, nil
		}
	}
	return nil, "", fmt.Errorf("no free host veth name for pod %s after %d tries", podID, maxVethCandidates)
}

// deleteLink removes a host link by name; a missing one is fine.
func (n *Network) deleteLink(name string) error {
	link, err := n.host.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("veth %s: %w", name, err)
	}
	if err := n.host.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete veth %s: %w", name, err)
	}
	return nil
}

// deletePodIf removes a leftover eth0 in the pod if it is a veth (nothing
// else of ours is ever called that there).
func deletePodIf(ph *netlink.Handle) error {
	link, err := ph.LinkByName(podIfName)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", podIfName, err)
	}
	if link.Type() != "veth" {
		return fmt.Errorf("%s is a %s, not our veth", podIfName, link.Type())
	}
	if err := ph.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", podIfName, err)
	}
	return nil
}

// isPeerOf says whether the pod's eth0 is the other end of hostLink: each
// end's IFLA_LINK names the other's index.
func isPeerOf(ph *netlink.Handle, hostLink netlink.Link) bool {
	eth, err := ph.LinkByName(podIfName)
	if err != nil || eth.Type() != "veth" {
		return false
	}
	return eth.Attrs().Index == hostLink.Attrs().ParentIndex &&
		eth.Attrs().ParentIndex == hostLink.Attrs().Index
}
