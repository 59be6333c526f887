package network

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// MasqTable is the nftables table (family ip) that holds skiff's
// masquerade rule. It belongs to skiff alone: EnsureMasquerade replaces it
// whole and RemoveMasquerade deletes it, never touching other tables.
// `nft list table ip skiff` shows it.
const MasqTable = "skiff"

// masqChain is the table's only chain: nat, hook postrouting, srcnat.
const masqChain = "postrouting"

// EnsureMasquerade makes pod traffic to addresses outside the cluster CIDR
// leave with the node's address (nftables masquerade), so replies find
// their way back; traffic between pods (inside the cluster CIDR, host-gw
// across nodes) keeps its pod source address. It is idempotent: the table
// is deleted and made again in one atomic transaction, so a restarted agent
// or a changed cluster CIDR never leaves a second rule behind.
func (n *Network) EnsureMasquerade() error {
	return withNFT(n.cfg.HostNetNS, func(c *nftables.Conn) error {
		t := &nftables.Table{Name: MasqTable, Family: nftables.TableFamilyIPv4}
		// Add before delete: deleting a table that is not there would fail
		// the whole transaction.
		c.AddTable(t)
		c.DelTable(t)
		c.AddTable(t)
		ch := c.AddChain(&nftables.Chain{
			Name: masqChain, Table: t,
			Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting,
			Priority: nftables.ChainPriorityNATSource,
		})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: masqExprs(n.cfg.ClusterCIDR)})
		if err := c.Flush(); err != nil {
			return fmt.Errorf("network: masquerade for %v: %w", n.cfg.ClusterCIDR, err)
		}
		return nil
	})
}

// RemoveMasquerade deletes skiff's nftables table, if there is one.
func (n *Network) RemoveMasquerade() error { return RemoveMasquerade(n.cfg.HostNetNS) }

// RemoveMasquerade deletes skiff's nftables table in the network namespace
// at netnsPath (empty: the caller's own), if there is one.
func RemoveMasquerade(netnsPath string) error {
	return withNFT(netnsPath, func(c *nftables.Conn) error {
		t := &nftables.Table{Name: MasqTable, Family: nftables.TableFamilyIPv4}
		c.AddTable(t)
		c.DelTable(t)
		if err := c.Flush(); err != nil {
			return fmt.Errorf("network: remove masquerade table: %w", err)
		}
		return nil
	})
}

// MasqueradeCIDR returns the cluster CIDR skiff's masquerade rule exempts,
// or ok=false when the table or its rule is missing (for tests and
// diagnostics).
func MasqueradeCIDR(netnsPath string) (cidr netip.Prefix, ok bool, err error) {
	err = withNFT(netnsPath, func(c *nftables.Conn) error {
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("network: list nftables tables: %w", err)
		}
		var t *nftables.Table
		for _, tt := range tables {
			if tt.Name == MasqTable {
				t = tt
			}
		}
		if t == nil {
			return nil
		}
		rules, err := c.GetRules(t, &nftables.Chain{Name: masqChain, Table: t})
		if err != nil {
			return fmt.Errorf("network: list masquerade rules: %w", err)
		}
		if len(rules) != 1 {
			return nil
		}
		cidr, ok = parseMasqExprs(rules[0].Exprs)
		return nil
	})
	return cidr, ok, err
}

// masqExprs is `ip saddr CIDR ip daddr != CIDR masquerade`.
func masqExprs(cluster netip.Prefix) []expr.Any {
	cluster = cluster.Masked()
	mask := prefixToIPNet(cluster).Mask
	net := cluster.Addr().AsSlice()
	match := func(offset uint32, op expr.CmpOp) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: op, Register: 1, Data: net},
		}
	}
	out := match(12, expr.CmpOpEq)                 // source address
	out = append(out, match(16, expr.CmpOpNeq)...) // destination address
	return append(out, &expr.Masq{})
}

// parseMasqExprs reads the cluster CIDR back from masqExprs' rule.
func parseMasqExprs(exprs []expr.Any) (netip.Prefix, bool) {
	if len(exprs) != 7 {
		return netip.Prefix{}, false
	}
	bw, ok1 := exprs[1].(*expr.Bitwise)
	cmp, ok2 := exprs[2].(*expr.Cmp)
	_, ok3 := exprs[6].(*expr.Masq)
	if !ok1 || !ok2 || !ok3 || len(bw.Mask) != 4 || len(cmp.Data) != 4 {
		return netip.Prefix{}, false
	}
	ones := 0
	for _, b := range bw.Mask {
		for i := 7; i >= 0; i-- {
			if b&(1<<i) != 0 {
				ones++
			}
		}
	}
	addr, _ := netip.AddrFromSlice(cmp.Data)
	return netip.PrefixFrom(addr, ones), true
}

// withNFT runs fn with an nftables connection whose netlink socket lives
// in the namespace at path, without moving any thread there.
func withNFT(path string, fn func(*nftables.Conn) error) error {
	ns, err := openNetNS(path)
	if err != nil {
		return fmt.Errorf("network: nftables: %w", err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return fmt.Errorf("network: nftables: %w", err)
	}
	return fn(c)
}
