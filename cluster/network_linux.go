package cluster

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// labBridge is the bridge in the lab namespace that joins the nodes.
const labBridge = "lab0"

// ensureNetwork makes (or completes) the cluster's network: the lab
// namespace with its bridge, the host's veth into it, and each node's
// namespace with eth0 on the bridge. Nothing in it has a default route, so
// nothing can leave the machine. It is idempotent: Start calls it too, and
// after a reboot it makes everything again.
func (l layout) ensureNetwork() error {
	lab := l.netnsPath("lab")
	if err := pinNamespace(lab, unix.CLONE_NEWNET, ""); err != nil {
		return err
	}
	labH, labNS, err := handleIn(lab)
	if err != nil {
		return err
	}
	defer labH.Close()
	defer labNS.Close()
	if err := upLink(labH, "lo"); err != nil {
		return err
	}
	br, err := labH.LinkByName(labBridge)
	if err != nil {
		if err := labH.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: labBridge}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("lab bridge: %w", err)
		}
		if br, err = labH.LinkByName(labBridge); err != nil {
			return fmt.Errorf("lab bridge: %w", err)
		}
	}
	if err := labH.LinkSetUp(br); err != nil {
		return fmt.Errorf("lab bridge up: %w", err)
	}

	// The host's end: an address on the lab subnet and nothing else.
	host, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("host netlink: %w", err)
	}
	defer host.Close()
	if err := l.ensureVeth(host, l.hostVeth(), labH, labNS, "host", br, l.hostAddr()); err != nil {
		return err
	}
	if l.spec.VM != nil {
		return l.ensureVMNetwork(labH, br)
	}

	for _, m := range l.members() {
		if err := l.ensureNodeNetwork(m, labH, labNS, br); err != nil {
			return err
		}
	}
	return nil
}

// ensureNodeNetwork makes (or completes) one node's namespaces and its
// eth0 on the lab bridge.
func (l layout) ensureNodeNetwork(m Member, labH *netlink.Handle, labNS netns.NsHandle, br netlink.Link) error {
	node := m.Name
	path := l.netnsPath(node)
	if err := pinNamespace(path, unix.CLONE_NEWNET, ""); err != nil {
		return err
	}
	if err := pinNamespace(l.utsFile(node), unix.CLONE_NEWUTS, node); err != nil {
		return err
	}
	h, ns, err := handleIn(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	err = upLink(h, "lo")
	if err == nil {
		err = l.ensureVeth(h, "eth0", labH, labNS, node, br, l.nodeAddr(m.Host))
	}
	if err != nil {
		return fmt.Errorf("node %s: %w", node, err)
	}
	return nil
}

// removeNodeNetwork unpins one node's namespaces; the kernel then removes
// its eth0 and, with it, the node's port on the lab bridge.
func (l layout) removeNodeNetwork(node string) error {
	return errors.Join(unpinNamespace(l.netnsPath(node)), unpinNamespace(l.utsFile(node)))
}

// ensureVeth gives the namespace of h a link named inner with addr/24,
// whose peer, named port, is a port of the lab bridge. The pair is made
// from h's side so its end never appears anywhere else.
func (l layout) ensureVeth(h *netlink.Handle, inner string, labH *netlink.Handle, labNS netns.NsHandle, port string, br netlink.Link, addr string) error {
	link, err := h.LinkByName(inner)
	if err != nil {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: inner}, PeerName: port, PeerNamespace: netlink.NsFd(labNS)}
		if err := h.LinkAdd(veth); err != nil {
			return fmt.Errorf("veth %s: %w", inner, err)
		}
		if link, err = h.LinkByName(inner); err != nil {
			return fmt.Errorf("veth %s: %w", inner, err)
		}
	}
	a, err := netlink.ParseAddr(addr + "/24")
	if err != nil {
		return err
	}
	if err := h.AddrReplace(link, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, inner, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("%s up: %w", inner, err)
	}
	p, err := labH.LinkByName(port)
	if err != nil {
		return fmt.Errorf("lab port %s: %w (delete the cluster and make it again)", port, err)
	}
	if err := labH.LinkSetMaster(p, br); err != nil {
		return fmt.Errorf("lab port %s: %w", port, err)
	}
	if err := labH.LinkSetUp(p); err != nil {
		return fmt.Errorf("lab port %s up: %w", port, err)
	}
	return nil
}

// removeNetwork deletes the host's veth and unpins every namespace of the
// cluster (the kernel then removes their links).
func (l layout) removeNetwork() error {
	var errs []error
	if h, err := netlink.NewHandle(); err == nil {
		if link, err := h.LinkByName(l.hostVeth()); err == nil {
			if err := h.LinkDel(link); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", l.hostVeth(), err))
			}
		}
		h.Close()
	}
	for _, node := range append(l.nodes(), "lab") {
		if err := unpinNamespace(l.netnsPath(node)); err != nil {
			errs = append(errs, err)
		}
		if node != "lab" {
			if err := unpinNamespace(l.utsFile(node)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func handleIn(path string) (*netlink.Handle, netns.NsHandle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, netns.None(), fmt.Errorf("netns %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, netns.None(), fmt.Errorf("netlink in %s: %w", path, err)
	}
	return h, ns, nil
}

func upLink(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return h.LinkSetUp(l)
}

// freeSubnet picks N for 172.31.N.0/24: the lowest one no address or route
// of the host uses and no other cluster under roots holds.
func freeSubnet(taken map[int]bool) (int, error) {
	routes, err := netlink.RouteList(nil, unix.AF_INET)
	if err != nil {
		return 0, fmt.Errorf("list host routes: %w", err)
	}
	used := map[int]bool{}
	for _, r := range routes {
		if r.Dst != nil {
			markUsed(used, r.Dst)
		}
	}
	addrs, _ := netlink.AddrList(nil, unix.AF_INET)
	for _, a := range addrs {
		markUsed(used, a.IPNet)
	}
	links, _ := netlink.LinkList()
	for _, lk := range links {
		var n int
		if _, err := fmt.Sscanf(lk.Attrs().Name, "skiff-lab%d", &n); err == nil && strings.HasPrefix(lk.Attrs().Name, "skiff-lab") {
			used[n] = true
		}
	}
	for n := 1; n < 255; n++ {
		if !used[n] && !taken[n] {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no free lab subnet in 172.31.0.0/16")
}

// markUsed marks every 172.31.N.0/24 that ipnet overlaps.
func markUsed(used map[int]bool, ipnet *net.IPNet) {
	ip := ipnet.IP.To4()
	if ip == nil {
		return
	}
	ones, _ := ipnet.Mask.Size()
	switch {
	case ones == 0: // a default route
	case ones <= 12 && ipnet.Contains(net.IPv4(172, 31, 0, 0)):
		for n := 0; n < 256; n++ {
			used[n] = true
		}
	case ones <= 16 && ip[0] == 172 && ip[1] == 31:
		for n := 0; n < 256; n++ {
			used[n] = true
		}
	case ones > 16 && ip[0] == 172 && ip[1] == 31:
		used[int(ip[2])] = true
	}
}
