package proxy

import (
	"fmt"

	"github.com/google/nftables"
)

// Update takes the table from old (what the last Program or Update put
// there) to next with as little as it can, in one transaction, as
// kube-proxy's partial syncs: only the chains of service ports that
// changed are refilled, those of ports gone (or left without endpoints)
// deleted with their map entries, those of new ports added with theirs;
// every other port's chains, rules and affinity entries stay untouched.
// A port whose affinity timeout changed, or a list with a name twice,
// rewrites the table (Program). It says whether the update was partial.
func Update(c *nftables.Conn, old, next []ServicePort) (partial bool, err error) {
	oldBy, okOld := byName(old)
	nextBy, okNext := byName(next)
	if old == nil || !okOld || !okNext {
		return false, Program(c, next)
	}
	for _, n := range next {
		if o, ok := oldBy[n.Name]; ok && o.AffinityTimeout != n.AffinityTimeout && affinityNeeded(o) && affinityNeeded(n) {
			return false, Program(c, next)
		}
	}
	t := &nftables.Table{Name: Table, Family: nftables.TableFamilyIPv4}
	svcIPs, nodePorts, err := serviceMaps(t)
	if err != nil {
		return true, err
	}
	var delIP, delNP, addIP, addNP []nftables.SetElement
	var delChains, delSets []string
	// 1. Empty the chains of every port that changed or went, so that no
	// rule refers to a chain deleted below (ext jumps to svc).
	for _, o := range old {
		n, ok := nextBy[o.Name]
		if ok && o.equal(n) {
			continue
		}
		oSvc, oExt := portChains(t, o)
		oFw := firewallChain(t, o)
		var nSvc, nExt, nFw *nftables.Chain
		if ok {
			nSvc, nExt = portChains(t, n)
			nFw = firewallChain(t, n)
		}
		for _, pair := range [][2]*nftables.Chain{{oSvc, nSvc}, {oExt, nExt}, {oFw, nFw}} {
			if pair[0] == nil {
				continue
			}
			c.FlushChain(pair[0])
			if pair[1] == nil {
				delChains = append(delChains, pair[0].Name)
			}
		}
		if affinityNeeded(o) && (!ok || !affinityNeeded(n)) {
			delSets = append(delSets, affinityMapName(o))
		}
		var nIPs []nftables.SetElement
		var nNP *nftables.SetElement
		oIPs, oNP := mapEntries(o)
		if ok {
			nIPs, nNP = mapEntries(n)
		}
		delIP = append(delIP, missingFrom(oIPs, nIPs)...)
		if oNP != nil && !sameEntry(oNP, nNP) {
			delNP = append(delNP, *oNP)
		}
	}
	// 2. Entries out, then the chains and maps nothing refers to now.
	if err := chunked(c.SetDeleteElements, svcIPs, delIP); err != nil {
		return true, err
	}
	if err := chunked(c.SetDeleteElements, nodePorts, delNP); err != nil {
		return true, err
	}
	for _, name := range delChains {
		c.DelChain(&nftables.Chain{Name: name, Table: t})
	}
	for _, name := range delSets {
		c.DelSet(&nftables.Set{Name: name, Table: t})
	}
	// 3. New maps and chains, then every changed or new port's rules, then
	// its entries.
	changed := 0
	for _, n := range next {
		o, ok := oldBy[n.Name]
		if ok && o.equal(n) {
			continue
		}
		changed++
		nSvc, nExt := portChains(t, n)
		nFw := firewallChain(t, n)
		var oSvc, oExt, oFw *nftables.Chain
		if ok {
			oSvc, oExt = portChains(t, o)
			oFw = firewallChain(t, o)
		}
		if nSvc != nil && oSvc == nil {
			c.AddChain(nSvc)
		}
		if nExt != nil && oExt == nil {
			c.AddChain(nExt)
		}
		if nFw != nil && oFw == nil {
			c.AddChain(nFw)
		}
		var aff *nftables.Set
		switch {
		case affinityNeeded(n) && ok && affinityNeeded(o):
			aff = &nftables.Set{Table: t, Name: affinityMapName(n)}
		case affinityNeeded(n):
			if aff, err = addAffinityMap(c, t, n); err != nil {
				return true, err
			}
		}
		if nSvc != nil {
			if err := serviceRules(c, t, nSvc, n, aff); err != nil {
				return true, err
			}
		}
		if nExt != nil {
			if err := externalRules(c, t, nExt, nSvc, n, aff); err != nil {
				return true, err
			}
		}
		if nFw != nil {
			firewallRules(c, t, nFw, n)
		}
		var oIPs []nftables.SetElement
		var oNP *nftables.SetElement
		if ok {
			oIPs, oNP = mapEntries(o)
		}
		nIPs, nNP := mapEntries(n)
		addIP = append(addIP, missingFrom(nIPs, oIPs)...)
		if nNP != nil && !sameEntry(nNP, oNP) {
			addNP = append(addNP, *nNP)
		}
	}
	if err := chunked(c.SetAddElements, svcIPs, addIP); err != nil {
		return true, err
	}
	if err := chunked(c.SetAddElements, nodePorts, addNP); err != nil {
		return true, err
	}
	if changed == 0 && len(delChains) == 0 && len(delIP)+len(delNP) == 0 {
		return true, nil
	}
	if err := c.Flush(); err != nil {
		return true, fmt.Errorf("proxy: update %d service ports in table %s: %w", changed, Table, err)
	}
	return true, nil
}

// byName indexes ports by name; false when a name comes twice.
func byName(ports []ServicePort) (map[string]ServicePort, bool) {
	m := make(map[string]ServicePort, len(ports))
	for _, p := range ports {
		if _, dup := m[p.Name]; dup {
			return nil, false
		}
		m[p.Name] = p
	}
	return m, true
}
