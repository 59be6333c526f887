// Package servicelb decides what skiff's own load balancer (ServiceLB, as
// k3s's klipper-lb) gives LoadBalancer services: every node's proxy
// answers such a service on the node's own address at the service's port,
// so its status.loadBalancer.ingress is the InternalIP of every Ready,
// schedulable node. A node address answers one service per port and
// protocol: the older service keeps it, and a later one wanting any of
// its ports gets no addresses (pending, as k3s's svclb pod that cannot
// bind its host port) until the older one goes.
//
// The controller that writes the statuses is in package controller; this
// package holds its pure decisions.
package servicelb

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// NodeAddresses are the addresses skiff's load balancer answers on: the
// InternalIP (IPv4) of every Ready, schedulable node not being deleted,
// sorted, once each.
func NodeAddresses(nodes []*skiffv1.Node) []netip.Addr {
	var out []netip.Addr
	for _, n := range nodes {
		ready := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady)
		if ready.GetStatus() != skiffv1.ConditionTrue || n.GetSpec().GetUnschedulable() || n.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		for _, a := range n.GetStatus().GetAddresses() {
			if ip, err := netip.ParseAddr(a.GetAddress()); a.GetType() == "InternalIP" && err == nil && ip.Is4() {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// Ingress is the status of a service that holds its ports: one Proxy-mode
// entry per address (the node at that address answers itself).
func Ingress(addrs []netip.Addr) []*skiffv1.LoadBalancerIngress {
	out := make([]*skiffv1.LoadBalancerIngress, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, &skiffv1.LoadBalancerIngress{Ip: a.String(), IpMode: proto.String(skiffv1.LoadBalancerIPModeProxy)})
	}
	return out
}

// SameIngress says whether two ingress lists are equal, entry by entry.
func SameIngress(a, b []*skiffv1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y *skiffv1.LoadBalancerIngress) bool { return proto.Equal(x, y) })
}

// Conflict is why a service gets no addresses: Port (e.g. "80/TCP") is
// held by Holder ("namespace/name"), an older service.
type Conflict struct {
	Port   string
	Holder string
}

func (c Conflict) String() string {
	return fmt.Sprintf("port %s is taken by the load balancer of service %s (older); this service waits for it", c.Port, c.Holder)
}

// Assign gives each service skiff's load balancer serves (the others in
// svcs are ignored) its ports on the nodes' addresses, oldest first: a
// service all of whose ports are free takes them; one with a port taken
// takes none and is listed with the first conflict.
func Assign(svcs []*skiffv1.Service) map[string]Conflict {
	served := slices.DeleteFunc(slices.Clone(svcs), func(s *skiffv1.Service) bool { return !skiffv1.ServedBySkiffLB(s.GetSpec()) })
	slices.SortFunc(served, skiffv1.OlderService)
	held := map[string]string{}
	blocked := map[string]Conflict{}
	for _, s := range served {
		key := s.GetMetadata().GetNamespace() + "/" + s.GetMetadata().GetName()
		ports := portsOf(s)
		free := true
		for _, p := range ports {
			if h, ok := held[p]; ok {
				blocked[key] = Conflict{Port: p, Holder: h}
				free = false
				break
			}
		}
		if free {
			for _, p := range ports {
				held[p] = key
			}
		}
	}
	return blocked
}

// portsOf lists a service's ports as "80/TCP".
func portsOf(s *skiffv1.Service) []string {
	var out []string
	for _, p := range s.GetSpec().GetPorts() {
		out = append(out, fmt.Sprintf("%d/%s", p.GetPort(), cmp.Or(p.GetProtocol(), "TCP")))
	}
	return out
}
