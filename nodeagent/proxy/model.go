package proxy

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Protocol numbers, as nftables' meta l4proto gives them.
const (
	protoTCP = 6
	protoUDP = 17
)

// ServicePort is one port of one service as the proxy programs it.
type ServicePort struct {
	// Name is "<namespace>/<service>:<port name>", for logs and chain
	// comments.
	Name      string
	ClusterIP netip.Addr
	Protocol  uint8
	Port      uint16
	// NodePort is 0 unless the service has one (NodePort, LoadBalancer).
	NodePort uint16
	// External are the other addresses this node answers at Port as the
	// service's, sorted: its externalIPs, its load balancer's VIP-mode
	// ingress addresses, and this node's own addresses when skiff's
	// load balancer serves it. Traffic to them is external, as a node
	// port's.
	External []netip.Addr
	// Firewalled are the addresses of External that are a load
	// balancer's, which only SourceRanges may reach
	// (loadBalancerSourceRanges); unused when SourceRanges is empty.
	Firewalled   []netip.Addr
	SourceRanges []netip.Prefix
	// Endpoints are the ready ones only, sorted: a terminating endpoint
	// takes no new connections (its existing ones keep their conntrack
	// entries and so their translation). Under internalTrafficPolicy
	// Local, only this node's.
	Endpoints []Endpoint
	// ExternalLocal is externalTrafficPolicy Local: the node port goes to
	// ExternalEndpoints (this node's) only, the client's address kept (no
	// masquerade), and is dropped when there are none. Connections from
	// the node itself and from InternalSources (the cluster CIDR: pods)
	// are not external and go to Endpoints, as kube-proxy short-circuits
	// them.
	ExternalLocal   bool
	InternalSources netip.Prefix
	// InternalLocal is internalTrafficPolicy Local on a node port service
	// whose external policy is Cluster: Endpoints are this node's, the
	// node port's ExternalEndpoints every node's.
	InternalLocal bool
	// ExternalEndpoints are the node port's when ExternalLocal or
	// InternalLocal (a chain of their own); unused otherwise.
	ExternalEndpoints []Endpoint
	// AffinityTimeout is sessionAffinity ClientIP's timeout in seconds; 0
	// is no affinity.
	AffinityTimeout uint32
}

// Node is what the proxy knows of the node it programs.
type Node struct {
	// Name picks the endpoints the Local traffic policies keep.
	Name string
	// ClusterCIDR holds every pod's address (may be unset).
	ClusterCIDR netip.Prefix
	// Addresses are the node's own (its InternalIP): skiff's load
	// balancer answers there at a LoadBalancer service's ports.
	Addresses []netip.Addr
}

// equal compares every field, endpoints included.
func (p ServicePort) equal(q ServicePort) bool {
	return p.sameShape(q) && slices.Equal(p.Endpoints, q.Endpoints) && slices.Equal(p.ExternalEndpoints, q.ExternalEndpoints)
}

// sameShape: the same service port with the same chains, maps and map
// entries: only the endpoints inside its chains may differ.
func (p ServicePort) sameShape(q ServicePort) bool {
	return p.Name == q.Name && p.ClusterIP == q.ClusterIP && p.Protocol == q.Protocol && p.Port == q.Port &&
		p.NodePort == q.NodePort && slices.Equal(p.External, q.External) &&
		slices.Equal(p.Firewalled, q.Firewalled) && slices.Equal(p.SourceRanges, q.SourceRanges) && p.ExternalLocal == q.ExternalLocal && p.InternalSources == q.InternalSources &&
		p.InternalLocal == q.InternalLocal &&
		p.AffinityTimeout == q.AffinityTimeout && (len(p.Endpoints) > 0) == (len(q.Endpoints) > 0)
}

// Endpoint is where a connection to a service port goes.
type Endpoint struct {
	IP   netip.Addr
	Port uint16
}

// Desired is the proxy's whole state on node, from the informers'
// objects: one ServicePort per port of every service that has a ClusterIP.
// eps maps "namespace/name" to the service's Endpoints object.
//
// Two services wanting one external address at one port and protocol (two
// with the same externalIP, or an externalIP that is another's ClusterIP):
// a ClusterIP keeps it, then the older service.
func Desired(svcs []*skiffv1.Service, eps func(key string) (*skiffv1.Endpoints, bool), node Node) []ServicePort {
	svcs = slices.Clone(svcs)
	slices.SortFunc(svcs, skiffv1.OlderService)
	var out []ServicePort
	for _, s := range svcs {
		if skiffv1.IsHeadless(s) {
			continue
		}
		ip, err := netip.ParseAddr(s.GetSpec().GetClusterIp())
		if err != nil || !ip.Is4() {
			continue
		}
		key := s.GetMetadata().GetNamespace() + "/" + s.GetMetadata().GetName()
		ep, ok := eps(key)
		if !ok {
			ep = nil
		}
		hasNodePorts := s.GetSpec().GetType() == skiffv1.ServiceTypeNodePort || s.GetSpec().GetType() == skiffv1.ServiceTypeLoadBalancer
		external, lb := externalAddrs(s, ip, node)
		var ranges []netip.Prefix
		if len(lb) > 0 {
			ranges = sourceRanges(s)
		}
		for _, p := range s.GetSpec().GetPorts() {
			proto, ok := protocolNumber(p.GetProtocol())
			if !ok || p.GetPort() <= 0 || p.GetPort() > 65535 {
				continue
			}
			all := readyEndpoints(ep, p.GetName(), cmp.Or(p.GetProtocol(), "TCP"), "")
			local := readyEndpoints(ep, p.GetName(), cmp.Or(p.GetProtocol(), "TCP"), node.Name)
			sp := ServicePort{
				Name:      key + ":" + cmp.Or(p.GetName(), strconv.Itoa(int(p.GetPort()))),
				ClusterIP: ip, Protocol: proto, Port: uint16(p.GetPort()),
				External:        external,
				SourceRanges:    ranges,
				Endpoints:       all,
				AffinityTimeout: uint32(max(skiffv1.AffinityTimeout(s), 0)),
			}
			internalLocal := s.GetSpec().GetInternalTrafficPolicy() == skiffv1.TrafficPolicyLocal
			if internalLocal {
				sp.Endpoints = local
			}
			if hasNodePorts && p.GetNodePort() > 0 && p.GetNodePort() <= 65535 {
				sp.NodePort = uint16(p.GetNodePort())
			}
			if sp.NodePort != 0 || len(sp.External) > 0 {
				switch {
				case s.GetSpec().GetExternalTrafficPolicy() == skiffv1.TrafficPolicyLocal:
					sp.ExternalLocal, sp.ExternalEndpoints, sp.InternalSources = true, local, node.ClusterCIDR
				case internalLocal:
					// The internal policy does not narrow external traffic.
					sp.InternalLocal, sp.ExternalEndpoints = true, all
				}
			}
			if len(ranges) > 0 {
				sp.Firewalled = lb
			}
			out = append(out, sp)
		}
	}
	claimExternal(out)
	slices.SortFunc(out, func(a, b ServicePort) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// externalAddrs lists the addresses other than its ClusterIP that this
// node answers at a service's ports: its externalIPs (every node, as
// kube-proxy); a load balancer's ingress addresses in VIP mode (every
// node: the proxy takes them as the service's) and in Proxy mode where
// they are this node's; and, for a service skiff's load balancer serves
// and has given addresses, this node's own. Loopback addresses are left
// out, as for node ports: translated, their traffic could not leave lo.
func externalAddrs(s *skiffv1.Service, clusterIP netip.Addr, node Node) (all, lb []netip.Addr) {
	var out []netip.Addr
	add := func(a string) {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() && !ip.IsLoopback() && !ip.IsUnspecified() && ip != clusterIP {
			out = append(out, ip)
		}
	}
	for _, a := range s.GetSpec().GetExternalIps() {
		add(a)
	}
	fromIPs := len(out)
	if s.GetSpec().GetType() == skiffv1.ServiceTypeLoadBalancer {
		ingress := s.GetStatus().GetLoadBalancer().GetIngress()
		for _, in := range ingress {
			ip, err := netip.ParseAddr(in.GetIp())
			if err != nil {
				continue
			}
			if in.GetIpMode() != skiffv1.LoadBalancerIPModeProxy || slices.Contains(node.Addresses, ip) {
				add(in.GetIp())
			}
		}
		if skiffv1.ServedBySkiffLB(s.GetSpec()) && len(ingress) > 0 {
			for _, a := range node.Addresses {
				add(a.String())
			}
		}
	}
	lb = sortedSet(slices.Clone(out[fromIPs:]))
	// An address both an externalIP and the load balancer's is the load
	// balancer's: its source ranges apply.
	return sortedSet(out), lb
}

func sortedSet(addrs []netip.Addr) []netip.Addr {
	if len(addrs) == 0 {
		return nil
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs)
}

// sourceRanges are a LoadBalancer service's loadBalancerSourceRanges,
// masked, sorted, once each.
func sourceRanges(s *skiffv1.Service) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range s.GetSpec().GetLoadBalancerSourceRanges() {
		if p, err := netip.ParsePrefix(strings.TrimSpace(r)); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return slices.Compact(out)
}

// claimExternal drops from ports (older services first) the external
// addresses a ClusterIP or an earlier port already has at the same
// protocol and port: one key of the map goes to one chain.
func claimExternal(ports []ServicePort) {
	type key struct {
		ip    netip.Addr
		proto uint8
		port  uint16
	}
	taken := map[key]bool{}
	for _, p := range ports {
		taken[key{p.ClusterIP, p.Protocol, p.Port}] = true
	}
	for i := range ports {
		p := &ports[i]
		var kept []netip.Addr
		for _, a := range p.External {
			k := key{a, p.Protocol, p.Port}
			if !taken[k] {
				taken[k] = true
				kept = append(kept, a)
			}
		}
		p.External = kept
		p.Firewalled = slices.DeleteFunc(slices.Clone(p.Firewalled), func(a netip.Addr) bool { return !slices.Contains(kept, a) })
		if len(p.Firewalled) == 0 {
			p.Firewalled, p.SourceRanges = nil, nil
		}
	}
}

// readyEndpoints lists the ready endpoints that serve the named port, at
// the port each resolves it to (a named targetPort may differ per pod);
// only those on node unless node is empty.
func readyEndpoints(ep *skiffv1.Endpoints, portName, protocol, node string) []Endpoint {
	var out []Endpoint
	for _, s := range ep.GetSlices() {
		var port int32
		for _, p := range s.GetPorts() {
			if p.GetName() == portName && cmp.Or(p.GetProtocol(), "TCP") == protocol {
				port = p.GetPort()
			}
		}
		if port <= 0 || port > 65535 {
			continue
		}
		for _, e := range s.GetEndpoints() {
			if !e.GetConditions().GetReady() || (node != "" && e.GetNodeName() != node) {
				continue
			}
			for _, a := range e.GetAddresses() {
				if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
					out = append(out, Endpoint{IP: ip, Port: uint16(port)})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port)) })
	return slices.Compact(out)
}

func protocolNumber(p string) (uint8, bool) {
	switch cmp.Or(p, "TCP") {
	case "TCP":
		return protoTCP, true
	case "UDP":
		return protoUDP, true
	}
	return 0, false
}

// StaleUDP is a UDP destination a service port no longer sends to an
// endpoint. Conntrack keeps translating a UDP flow it has seen to the
// endpoint it first chose for as long as packets keep coming (a resolver's
// fixed source port does), even after the rule that chose it is gone, so
// the proxy deletes the flows still going there, as kube-proxy does.
type StaleUDP struct {
	// Dst is the ClusterIP; unset for a node port (any address of the
	// node).
	Dst      netip.Addr
	Port     uint16
	Endpoint netip.Addr
}

// staleUDP lists the UDP destinations of old whose endpoints next no
// longer reaches from them: an endpoint gone from a service port, or a
// ClusterIP, port or node port gone with all its endpoints.
func staleUDP(old, next []ServicePort) []StaleUDP {
	type dst struct {
		ip   netip.Addr
		port uint16
	}
	kept := map[dst]map[netip.Addr]bool{}
	keep := func(d dst, eps []Endpoint) {
		if kept[d] == nil {
			kept[d] = map[netip.Addr]bool{}
		}
		for _, e := range eps {
			kept[d][e.IP] = true
		}
	}
	for _, q := range next {
		if q.Protocol != protoUDP {
			continue
		}
		keep(dst{q.ClusterIP, q.Port}, q.Endpoints)
		for _, a := range q.External {
			keep(dst{a, q.Port}, slices.Concat(q.Endpoints, q.ExternalEndpoints))
		}
		if q.NodePort != 0 {
			keep(dst{port: q.NodePort}, slices.Concat(q.Endpoints, q.ExternalEndpoints))
		}
	}
	var out []StaleUDP
	seen := map[StaleUDP]bool{}
	add := func(d dst, eps []Endpoint) {
		for _, e := range eps {
			s := StaleUDP{Dst: d.ip, Port: d.port, Endpoint: e.IP}
			if !kept[d][e.IP] && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	for _, p := range old {
		if p.Protocol != protoUDP {
			continue
		}
		add(dst{p.ClusterIP, p.Port}, p.Endpoints)
		for _, a := range p.External {
			add(dst{a, p.Port}, slices.Concat(p.Endpoints, p.ExternalEndpoints))
		}
		if p.NodePort != 0 {
			add(dst{port: p.NodePort}, slices.Concat(p.Endpoints, p.ExternalEndpoints))
		}
	}
	return out
}
