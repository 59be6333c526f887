package proxy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// externalPool are the external addresses random ports draw from, sorted
// (10.96.0.12 may be a ClusterIP too).
var externalPool = []netip.Addr{
	netip.MustParseAddr("10.96.0.12"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("198.51.100.7"),
}

// rangePool are the source ranges random ports draw from (a prefix of
// it).
var rangePool = []netip.Prefix{netip.MustParsePrefix("10.78.0.0/24"), netip.MustParsePrefix("192.0.2.0/25"), netip.MustParsePrefix("203.0.113.7/32")}

// randomPorts makes a valid desired state from a small pool, so that
// successive states rename, move, swap and re-key ports.
func randomPorts(r *rand.Rand) []ServicePort {
	var out []ServicePort
	usedIP := map[string]bool{}
	usedNP := map[uint16]bool{}
	for svc := 0; svc < 4; svc++ {
		if r.IntN(4) == 0 {
			continue
		}
		ip := netip.AddrFrom4([4]byte{10, 96, 0, byte(10 + r.IntN(4))})
		nports := 1 + r.IntN(2)
		names := []string{"http", "web", "x"}
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		timeout := uint32([]int{0, 0, 60, 120}[r.IntN(4)])
		nodePortSvc := r.IntN(2) == 0
		extLocal := r.IntN(2) == 0
		intLocal := r.IntN(3) == 0
		for i := 0; i < nports; i++ {
			port := uint16(80 + r.IntN(2))
			key := fmt.Sprintf("%v/%d", ip, port)
			if usedIP[key] {
				continue
			}
			usedIP[key] = true
			sp := ServicePort{Name: fmt.Sprintf("default/s%d:%s", svc, names[i]), ClusterIP: ip, Protocol: protoTCP, Port: port, AffinityTimeout: timeout}
			all := []Endpoint{}
			for e := 0; e < r.IntN(3); e++ {
				all = append(all, Endpoint{netip.AddrFrom4([4]byte{10, 77, 0, byte(10 + e)}), 8080})
			}
			if len(all) == 0 {
				all = nil
			}
			local := all
			if len(all) > 0 && r.IntN(2) == 0 {
				local = all[:1]
			}
			sp.Endpoints = all
			if intLocal {
				sp.Endpoints = local
			}
			if nodePortSvc {
				np := uint16(30100 + r.IntN(4))
				if !usedNP[np] {
					usedNP[np] = true
					sp.NodePort = np
				}
			}
			// External addresses (externalIPs, a load balancer's, the
			// node's own), some of which another service's ClusterIP has.
			for _, a := range externalPool {
				key := fmt.Sprintf("%v/%d", a, port)
				if r.IntN(3) == 0 && !usedIP[key] {
					usedIP[key] = true
					sp.External = append(sp.External, a)
				}
			}
			// Some of them a load balancer's, behind source ranges.
			if len(sp.External) > 0 && r.IntN(2) == 0 {
				for _, a := range sp.External {
					if r.IntN(2) == 0 {
						sp.Firewalled = append(sp.Firewalled, a)
					}
				}
				if len(sp.Firewalled) > 0 {
					sp.SourceRanges = rangePool[:1+r.IntN(len(rangePool))]
				}
			}
			if sp.NodePort != 0 || len(sp.External) > 0 {
				switch {
				case extLocal:
					sp.ExternalLocal, sp.ExternalEndpoints, sp.InternalSources = true, local, netip.MustParsePrefix("10.77.0.0/16")
				case intLocal:
					sp.InternalLocal, sp.ExternalEndpoints = true, all
				}
			}
			out = append(out, sp)
		}
	}
	return out
}

var anonName = regexp.MustCompile(`__(map|set)[0-9]+`)

// nftText dumps every chain's rules, anonymous sets shown by contents.
func (l *lab) nftText() string {
	l.t.Helper()
	var lines []string
	err := withConn(l.node, func(c *nftables.Conn) error {
		t := &nftables.Table{Name: Table, Family: nftables.TableFamilyIPv4}
		sets, err := c.GetSets(t)
		if err != nil {
			return err
		}
		anon := map[string]string{}
		for _, s := range sets {
			if !anonName.MatchString(s.Name) {
				continue
			}
			elems, err := c.GetSetElements(s)
			if err != nil {
				return err
			}
			var es []string
			for _, e := range elems {
				es = append(es, fmt.Sprintf("%x:%x", e.Key, e.Val))
			}
			slices.Sort(es)
			anon[s.Name] = "{" + strings.Join(es, ",") + "}"
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Table.Name != Table {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return err
			}
			for i, r := range rules {
				var parts []string
				for _, e := range r.Exprs {
					s := fmt.Sprintf("%T%+v", e, e)
					s = anonName.ReplaceAllStringFunc(s, func(n string) string { return anon[n] })
					parts = append(parts, s)
				}
				lines = append(lines, fmt.Sprintf("%s[%d] %s", ch.Name, i, strings.Join(parts, " ")))
			}
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("dump: %v", err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Random sequences of states applied with Update end as Program makes
// them, and Update never fails.
func TestUpdateMatchesProgramRandomly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	l := &lab{t: t, node: newNetNS(t, "node")}
	r := rand.New(rand.NewPCG(1, 2))
	var cur []ServicePort
	l.program(cur)
	for i := 0; i < 300; i++ {
		next := randomPorts(r)
		if err := withConn(l.node, func(c *nftables.Conn) error { _, err := Update(c, cur, next); return err }); err != nil {
			t.Fatalf("step %d: Update from\n%+v\nto\n%+v: %v", i, cur, next, err)
		}
		got := l.nftLines() + "\n" + l.nftText()
		l.program(next)
		if want := l.nftLines() + "\n" + l.nftText(); got != want {
			t.Fatalf("step %d: from\n%+v\nto\n%+v\nUpdate made:\n%s\nProgram:\n%s", i, cur, next, got, want)
		}
		cur = next
	}
}
