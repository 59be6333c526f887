package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Table is the nftables table (family ip) the proxy owns; `nft list table
// ip skiff-proxy` shows it. Nobody else's table is ever touched.
const Table = "skiff-proxy"

// icmpPortUnreachable is ICMP destination unreachable's code 3, which a
// TCP connect or a UDP socket reports as "connection refused".
const icmpPortUnreachable = 3

// masqMark is the packet mark bit of connections to masquerade, as
// kube-proxy's 0x4000.
const masqMark = 0x4000

const (
	mapServiceIPs    = "service-ips"
	mapNodePorts     = "service-nodeports"
	chainServices    = "services"
	chainNoEndpoints = "no-endpoints"
)

// Program replaces the proxy's table in the network namespace the
// connection is in by one holding ports, in a single netlink batch.
func Program(c *nftables.Conn, ports []ServicePort) error {
	t := &nftables.Table{Name: Table, Family: nftables.TableFamilyIPv4}
	// Add before delete: deleting a table that is not there fails the
	// batch. All of it below is one transaction.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	if err := build(c, t, ports); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("proxy: program table %s (%d service ports): %w", Table, len(ports), err)
	}
	return nil
}

// Remove deletes the proxy's table, if there is one.
func Remove(c *nftables.Conn) error {
	t := &nftables.Table{Name: Table, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("proxy: remove table %s: %w", Table, err)
	}
	return nil
}

// serviceMaps are the verdict maps from ClusterIP . protocol . port and
// from protocol . node port to a service port's chain.
func serviceMaps(t *nftables.Table) (svcIPs, nodePorts *nftables.Set, err error) {
	ipKey, err := nftables.ConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	if err != nil {
		return nil, nil, err
	}
	npKey, err := nftables.ConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	if err != nil {
		return nil, nil, err
	}
	svcIPs = &nftables.Set{Table: t, Name: mapServiceIPs, IsMap: true, Concatenation: true, KeyType: ipKey, DataType: nftables.TypeVerdict}
	nodePorts = &nftables.Set{Table: t, Name: mapNodePorts, IsMap: true, Concatenation: true, KeyType: npKey, DataType: nftables.TypeVerdict}
	return svcIPs, nodePorts, nil
}

func build(c *nftables.Conn, t *nftables.Table, ports []ServicePort) error {
	svcIPs, nodePorts, err := serviceMaps(t)
	if err != nil {
		return err
	}

	services := c.AddChain(&nftables.Chain{Name: chainServices, Table: t})
	// A ClusterIP port without endpoints refuses at once (ICMP port
	// unreachable: the client's connect or next read fails with
	// "connection refused"), as kube-proxy does, rather than leaving it to
	// time out.
	noEndpoints := c.AddChain(&nftables.Chain{Name: chainNoEndpoints, Table: t})
	c.AddRule(&nftables.Rule{Table: t, Chain: noEndpoints, Exprs: []expr.Any{
		&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreachable},
	}})
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"prerouting", nftables.ChainHookPrerouting}, {"output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Name: h.name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: h.hook, Priority: nftables.ChainPriorityNATDest})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chainServices}}})
	}
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(masqMark), Xor: native32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: native32(0)},
		&expr.Masq{},
	}})

	var ipElems, npElems []nftables.SetElement
	for _, p := range ports {
		svc, ext := portChains(t, p)
		var aff *nftables.Set
		if affinityNeeded(p) {
			var err error
			if aff, err = addAffinityMap(c, t, p); err != nil {
				return err
			}
		}
		// A port without endpoints is refused at its ClusterIP (see
		// mapEntries); a node port without a chain has no entry and goes
		// to the node's own closed port, refused too.
		if svc != nil {
			c.AddChain(svc)
			if err := serviceRules(c, t, svc, p, aff); err != nil {
				return err
			}
		}
		if ext != nil {
			c.AddChain(ext)
			if err := externalRules(c, t, ext, svc, p, aff); err != nil {
				return err
			}
		}
		if fw := firewallChain(t, p); fw != nil {
			c.AddChain(fw)
			firewallRules(c, t, fw, p)
		}
		ips, np := mapEntries(p)
		ipElems = append(ipElems, ips...)
		if np != nil {
			npElems = append(npElems, *np)
		}
	}
	if err := addMap(c, svcIPs, ipElems); err != nil {
		return err
	}
	if err := addMap(c, nodePorts, npElems); err != nil {
		return err
	}
	// ip daddr . meta l4proto . th dport vmap @service-ips
	c.AddRule(&nftables.Rule{Table: t, Chain: services, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: svcIPs.Name, SetID: svcIPs.ID},
	}})
	// fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
	c.AddRule(&nftables.Rule{Table: t, Chain: services, Exprs: []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native32(unix.RTN_LOCAL)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{127}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: nodePorts.Name, SetID: nodePorts.ID},
	}})
	return nil
}

// portChains names the chains a service port has: svc (ClusterIP
// traffic, and external traffic when no Local policy sets it apart) when
// it has endpoints; ext (traffic to a node port or an external address
// under a Local policy) whenever a policy is Local, so that it can drop.
func portChains(t *nftables.Table, p ServicePort) (svc, ext *nftables.Chain) {
	if len(p.Endpoints) > 0 {
		svc = &nftables.Chain{Name: chainName("svc", p.Name), Table: t}
	}
	if (p.NodePort != 0 || len(p.External) > 0) && (p.ExternalLocal || p.InternalLocal) {
		ext = &nftables.Chain{Name: chainName("ext", p.Name), Table: t}
	}
	return svc, ext
}

// firewallChain is the chain of a port whose load balancer addresses
// only some sources may reach (loadBalancerSourceRanges); nil for
// another.
func firewallChain(t *nftables.Table, p ServicePort) *nftables.Chain {
	if len(p.SourceRanges) == 0 || len(p.Firewalled) == 0 {
		return nil
	}
	return &nftables.Chain{Name: chainName("fw", p.Name), Table: t}
}

// firewallRules fills a firewall chain: a connection from one of the
// source ranges goes on as any external one, others are dropped, as
// kube-proxy drops them.
//
//	ip saddr & mask == net goto <external target>   (one per range)
//	drop
func firewallRules(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, p ServicePort) {
	target := externalTarget(p)
	for _, r := range p.SourceRanges {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(r.Bits(), 32), Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: r.Masked().Addr().AsSlice()},
			&expr.Verdict{Kind: expr.VerdictGoto, Chain: target},
		}})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
}

// externalTarget is the chain an external address's traffic goes to:
// no-endpoints (refused) when the port has no endpoint at all; the ext
// chain under a Local policy (which drops when this node has none); the
// cluster chain otherwise.
func externalTarget(p ServicePort) string {
	svc, ext := portChains(&nftables.Table{}, p)
	switch {
	case len(p.Endpoints) == 0 && len(p.ExternalEndpoints) == 0:
		return chainNoEndpoints
	case ext != nil:
		return ext.Name
	case svc != nil:
		return svc.Name
	}
	return chainNoEndpoints
}

// serviceRules fills a service port's cluster chain: mark the connection
// for masquerade, then DNAT to an endpoint (see dnatRules).
func serviceRules(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, p ServicePort, aff *nftables.Set) error {
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: markForMasq()})
	return dnatRules(c, t, ch, p.Name, p.Endpoints, aff, p.AffinityTimeout)
}

// externalRules fills the chain of a node port's or an external address's
// traffic when it goes to other endpoints than its ClusterIP's. Under
// externalTrafficPolicy Local:
// a connection from the node itself or from a pod is internal and goes to
// the cluster chain (kube-proxy's short-circuit); any other goes to an
// endpoint on this node, unmasqueraded so that the pod sees the client's
// address, or is dropped when this node has none. Under
// internalTrafficPolicy Local with the Cluster external policy: to any
// endpoint, masqueraded, as the cluster chain would without the internal
// policy.
func externalRules(c *nftables.Conn, t *nftables.Table, ch, svc *nftables.Chain, p ServicePort, aff *nftables.Set) error {
	if !p.ExternalLocal {
		if len(p.ExternalEndpoints) == 0 {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
			return nil
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: markForMasq()})
		return dnatRules(c, t, ch, p.Name, p.ExternalEndpoints, aff, p.AffinityTimeout)
	}
	if svc != nil {
		// fib saddr type local goto svc
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: native32(unix.RTN_LOCAL)},
			&expr.Verdict{Kind: expr.VerdictGoto, Chain: svc.Name},
		}})
		if src := p.InternalSources; src.IsValid() && src.Addr().Is4() {
			// ip saddr <cluster CIDR> goto svc
			mask := net.CIDRMask(src.Bits(), 32)
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: src.Masked().Addr().AsSlice()},
				&expr.Verdict{Kind: expr.VerdictGoto, Chain: svc.Name},
			}})
		}
	}
	if len(p.ExternalEndpoints) == 0 {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
		return nil
	}
	return dnatRules(c, t, ch, p.Name, p.ExternalEndpoints, aff, p.AffinityTimeout)
}

// dnatRules DNATs to one of eps picked at random: `dnat to numgen random
// mod N map { 0 : ip . port, ... }`, one rule and one anonymous map (no
// chain per endpoint: fewer objects make the transaction short).
//
// With ClientIP affinity (aff set), aff maps a client's address to the
// endpoint its last connection went to, each entry expiring timeout
// seconds after its last use (kube-proxy keeps one such set per endpoint;
// one map per service port does the same here):
//
//	ip saddr map @aff . in { eps } update @aff; dnat to it   (known, still an endpoint)
//	ip saddr map @aff → delete @aff { ip saddr }             (known, endpoint gone)
//	pick at random; update @aff { ip saddr : pick }; dnat to it
func dnatRules(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, name string, eps []Endpoint, aff *nftables.Set, timeout uint32) error {
	target, err := nftables.ConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	if err != nil {
		return err
	}
	pick := &nftables.Set{Table: t, Anonymous: true, Constant: true, IsMap: true, KeyType: nftables.TypeInteger, DataType: target}
	elems := make([]nftables.SetElement, len(eps))
	for i, e := range eps {
		elems[i] = nftables.SetElement{Key: native32(uint32(i)), Val: concatKey(e.IP.AsSlice(), binaryutil.BigEndian.PutUint16(e.Port))}
	}
	if err := c.AddSet(pick, elems); err != nil {
		return fmt.Errorf("proxy: endpoints of %s: %w", name, err)
	}
	dnat := &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9, Specified: true}
	if aff == nil {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Numgen{Register: 1, Modulus: uint32(len(eps)), Type: unix.NFT_NG_RANDOM},
			&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: pick.Name, SetID: pick.ID},
			dnat,
		}})
		return nil
	}
	valid := &nftables.Set{Table: t, Anonymous: true, Constant: true, Concatenation: true, KeyType: target}
	velems := make([]nftables.SetElement, len(eps))
	for i, e := range eps {
		velems[i] = nftables.SetElement{Key: concatKey(e.IP.AsSlice(), binaryutil.BigEndian.PutUint16(e.Port))}
	}
	if err := c.AddSet(valid, velems); err != nil {
		return fmt.Errorf("proxy: endpoints of %s: %w", name, err)
	}
	ttl := time.Duration(timeout) * time.Second
	saddr := &expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	known := &expr.Lookup{SourceRegister: 2, DestRegister: 1, IsDestRegSet: true, SetName: aff.Name, SetID: aff.ID}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		saddr, known,
		&expr.Lookup{SourceRegister: 1, SetName: valid.Name, SetID: valid.ID},
		&expr.Dynset{SrcRegKey: 2, SrcRegData: 1, SetName: aff.Name, SetID: aff.ID, Operation: dynsetUpdate, Timeout: ttl},
		dnat,
	}})
	// The data register is required for a map even when deleting; it
	// holds the stale entry's value.
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		saddr, known,
		&expr.Dynset{SrcRegKey: 2, SrcRegData: 1, SetName: aff.Name, SetID: aff.ID, Operation: dynsetDelete},
	}})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Numgen{Register: 1, Modulus: uint32(len(eps)), Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: pick.Name, SetID: pick.ID},
		saddr,
		&expr.Dynset{SrcRegKey: 2, SrcRegData: 1, SetName: aff.Name, SetID: aff.ID, Operation: dynsetUpdate, Timeout: ttl},
		dnat,
	}})
	return nil
}

// Dynset operations (the kernel's NFT_DYNSET_OP_*).
const (
	dynsetUpdate = 1
	dynsetDelete = 2
)

// addAffinityMap adds a ClientIP service port's map of client address to
// endpoint, filled by the packet path, its entries timing out.
func addAffinityMap(c *nftables.Conn, t *nftables.Table, p ServicePort) (*nftables.Set, error) {
	target, err := nftables.ConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	if err != nil {
		return nil, err
	}
	m := &nftables.Set{Table: t, Name: affinityMapName(p), IsMap: true, Dynamic: true, HasTimeout: true,
		Timeout: time.Duration(p.AffinityTimeout) * time.Second, KeyType: nftables.TypeIPAddr, DataType: target}
	if err := c.AddSet(m, nil); err != nil {
		return nil, fmt.Errorf("proxy: affinity map of %s: %w", p.Name, err)
	}
	return m, nil
}

func affinityMapName(p ServicePort) string { return chainName("aff", p.Name) }

// elemChunk is how many elements go in one netlink message: a message's
// element list is an attribute with a 16-bit length, which thousands of
// elements would overflow (the kernel then sees only the first few).
const elemChunk = 256

// addMap adds a named map and its elements, in chunks.
func addMap(c *nftables.Conn, m *nftables.Set, elems []nftables.SetElement) error {
	if err := c.AddSet(m, nil); err != nil {
		return fmt.Errorf("proxy: map %s: %w", m.Name, err)
	}
	return chunked(c.SetAddElements, m, elems)
}

// markForMasq is `meta mark set mark | 0x4000`.
func markForMasq() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: native32(^uint32(masqMark)), Xor: native32(masqMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// concatKey pads each part to 4 bytes, as nftables lays out the registers
// of a concatenation.
func concatKey(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
		for len(p)%4 != 0 {
			out = append(out, 0)
			p = append(p, 0)
		}
	}
	return out
}

func native32(v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b
}

// chainName is a short stable name for a service port's or an endpoint's
// chain (kube-proxy hashes the same way): names stay under nftables'
// limits whatever the service is called.
func chainName(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + "-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10])
}

// affinityNeeded: the port has an affinity map (a ClientIP port with a
// chain to use it).
func affinityNeeded(p ServicePort) bool {
	svc, ext := portChains(&nftables.Table{}, p)
	return p.AffinityTimeout > 0 && (svc != nil || ext != nil)
}

// mapEntries are the port's entries in the service-ips map (its
// ClusterIP's, then its external addresses') and in the node port map
// (nil: none), as build makes them.
//
// A ClusterIP port without endpoints maps to the no-endpoints chain,
// which rejects: dropped in the nat hook, a packet leaves no conntrack
// entry. Let through untranslated, the
// node's own packet would be routed to the service bridge and its
// connection confirmed there, so that the flow stayed untranslated after
// endpoints came, for as long as its packets kept the entry alive (a UDP
// client resending from one socket: for ever). An external address goes
// where externalTarget says, or first through the firewall chain when it
// is a load balancer's with source ranges.
func mapEntries(p ServicePort) (ips []nftables.SetElement, np *nftables.SetElement) {
	svc, ext := portChains(&nftables.Table{}, p)
	goTo := func(ch *nftables.Chain) *expr.Verdict {
		if ch == nil {
			return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chainNoEndpoints}
		}
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: ch.Name}
	}
	key := func(ip netip.Addr) []byte {
		return concatKey(ip.AsSlice(), []byte{p.Protocol}, binaryutil.BigEndian.PutUint16(p.Port))
	}
	ips = append(ips, nftables.SetElement{Key: key(p.ClusterIP), VerdictData: goTo(svc)})
	target := svc
	if ext != nil {
		target = ext
	}
	fw := firewallChain(&nftables.Table{}, p)
	for _, a := range p.External {
		to := &expr.Verdict{Kind: expr.VerdictGoto, Chain: externalTarget(p)}
		if fw != nil && slices.Contains(p.Firewalled, a) {
			to = goTo(fw)
		}
		ips = append(ips, nftables.SetElement{Key: key(a), VerdictData: to})
	}
	if p.NodePort != 0 && target != nil {
		np = &nftables.SetElement{
			Key:         concatKey([]byte{p.Protocol}, binaryutil.BigEndian.PutUint16(p.NodePort)),
			VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: target.Name},
		}
	}
	return ips, np
}

// missingFrom lists the entries of a that b does not have as they are.
func missingFrom(a, b []nftables.SetElement) []nftables.SetElement {
	var out []nftables.SetElement
	for i := range a {
		if !slices.ContainsFunc(b, func(e nftables.SetElement) bool { return sameEntry(&a[i], &e) }) {
			out = append(out, a[i])
		}
	}
	return out
}

func sameEntry(a, b *nftables.SetElement) bool {
	if a == nil || b == nil {
		return a == b
	}
	return string(a.Key) == string(b.Key) && a.VerdictData.Kind == b.VerdictData.Kind && a.VerdictData.Chain == b.VerdictData.Chain
}

// chunked applies op to elems in chunks of elemChunk.
func chunked(op func(*nftables.Set, []nftables.SetElement) error, s *nftables.Set, elems []nftables.SetElement) error {
	for len(elems) > 0 {
		n := min(len(elems), elemChunk)
		if err := op(s, elems[:n]); err != nil {
			return fmt.Errorf("proxy: map %s: %w", s.Name, err)
		}
		elems = elems[n:]
	}
	return nil
}
