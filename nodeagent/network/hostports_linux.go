package network

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// HostPortTable is the nftables table (family ip) that publishes pods'
// hostPorts, as the CNI portmap plugin does: a packet to a port of the
// node's own addresses is sent (DNAT) to the pod's IP and container port.
// It belongs to skiff alone; each rule carries its pod's ID, so one pod's
// ports are replaced or removed without touching the others'.
// `nft list table ip skiff-hostports` shows it.
const HostPortTable = "skiff-hostports"

// HostPort is one published port of a pod.
type HostPort struct {
	HostPort, ContainerPort uint16
	// Protocol is "TCP" or "UDP".
	Protocol string
}

// SetHostPorts publishes ports of the pod podID (address podIP) on the
// node's addresses, replacing what it published before, in one nftables
// transaction.
func (n *Network) SetHostPorts(podID string, podIP netip.Addr, ports []HostPort) error {
	if len(ports) == 0 {
		return n.RemoveHostPorts(podID)
	}
	if !podIP.Is4() {
		return fmt.Errorf("network: hostPort: pod address %v is not IPv4", podIP)
	}
	return withNFT(n.cfg.HostNetNS, func(c *nftables.Conn) error {
		t, chains := hostPortChains(c)
		if err := c.Flush(); err != nil {
			return fmt.Errorf("network: hostPort table: %w", err)
		}
		if err := delPodRules(c, t, chains, podID); err != nil {
			return err
		}
		for _, ch := range chains {
			for _, p := range ports {
				exprs, err := dnatExprs(p, podIP)
				if err != nil {
					return err
				}
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs, UserData: []byte(podID)})
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("network: publish hostPorts of pod %s: %w", podID, err)
		}
		return nil
	})
}

// RemoveHostPorts withdraws every port the pod published.
func (n *Network) RemoveHostPorts(podID string) error {
	return withNFT(n.cfg.HostNetNS, func(c *nftables.Conn) error {
		t := &nftables.Table{Name: HostPortTable, Family: nftables.TableFamilyIPv4}
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("network: list nftables tables: %w", err)
		}
		found := false
		for _, x := range tables {
			found = found || x.Name == HostPortTable
		}
		if !found {
			return nil
		}
		chains := []*nftables.Chain{{Name: "prerouting", Table: t}, {Name: "output", Table: t}}
		if err := delPodRules(c, t, chains, podID); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("network: withdraw hostPorts of pod %s: %w", podID, err)
		}
		return nil
	})
}

// RemoveHostPortTable deletes the hostPort table in the network namespace
// at netnsPath (empty: the caller's own), if there is one.
func RemoveHostPortTable(netnsPath string) (removed bool, err error) {
	err = withNFT(netnsPath, func(c *nftables.Conn) error {
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("network: list nftables tables: %w", err)
		}
		for _, x := range tables {
			if x.Name == HostPortTable {
				c.DelTable(x)
				removed = true
			}
		}
		if !removed {
			return nil
		}
		return c.Flush()
	})
	return removed, err
}

// hostPortChains adds (if missing) the table and its two nat chains:
// prerouting for packets from elsewhere, output for the node's own.
func hostPortChains(c *nftables.Conn) (*nftables.Table, []*nftables.Chain) {
	t := c.AddTable(&nftables.Table{Name: HostPortTable, Family: nftables.TableFamilyIPv4})
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	return t, []*nftables.Chain{pre, out}
}

// delPodRules queues the deletion of the pod's rules.
func delPodRules(c *nftables.Conn, t *nftables.Table, chains []*nftables.Chain, podID string) error {
	for _, ch := range chains {
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return fmt.Errorf("network: list hostPort rules: %w", err)
		}
		for _, r := range rules {
			if bytes.Equal(r.UserData, []byte(podID)) {
				if err := c.DelRule(r); err != nil {
					return fmt.Errorf("network: delete hostPort rule: %w", err)
				}
			}
		}
	}
	return nil
}

// dnatExprs is `fib daddr type local meta l4proto P th dport HOST dnat to
// POD:PORT`.
func dnatExprs(p HostPort, podIP netip.Addr) ([]expr.Any, error) {
	proto := byte(unix.IPPROTO_TCP)
	switch p.Protocol {
	case "", "TCP":
	case "UDP":
		proto = unix.IPPROTO_UDP
	default:
		return nil, fmt.Errorf("network: hostPort %d: protocol %q is not TCP or UDP", p.HostPort, p.Protocol)
	}
	local := make([]byte, 4)
	binary.NativeEndian.PutUint32(local, unix.RTN_LOCAL)
	ip := podIP.As4()
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: local},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: ip[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
	}, nil
}
