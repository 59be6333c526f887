package controller

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// labelServiceName is set on every Endpoints object to its service's name,
// as Kubernetes labels EndpointSlices.
const labelServiceName = "kubernetes.io/service-name"

// selectsPod: the service has a selector, is in the pod's namespace, and
// the selector matches the pod's labels.
func selectsPod(svc *skiffv1.Service, p *skiffv1.Pod) bool {
	sel := svc.GetSpec().GetSelector()
	return len(sel) > 0 && p.GetMetadata().GetNamespace() == svc.GetMetadata().GetNamespace() &&
		labels.SelectorFromSet(sel).Matches(p.GetMetadata().GetLabels())
}

// desiredSlices is the content of a service's Endpoints object: every pod
// the service selects that has an IP and has not finished, grouped by the
// ports it resolves the service's ports to, in a stable order (so that an
// unchanged state compares equal and is not written again).
//
// As in Kubernetes: serving is the pod's Ready condition (false while its
// node is not Ready, per nodeServes), terminating is a deletion in
// progress, and ready is serving and not terminating. A named
// targetPort the pod has no container port for leaves that port out for
// that pod.
func desiredSlices(svc *skiffv1.Service, pods []*skiffv1.Pod, nodeServes func(node string) bool) []*skiffv1.EndpointSlice {
	byPorts := map[string]*skiffv1.EndpointSlice{}
	for _, p := range pods {
		if !selectsPod(svc, p) {
			continue
		}
		ip, err := netip.ParseAddr(p.GetStatus().GetPodIp())
		if err != nil || !ip.Is4() {
			continue // not started yet, or nothing a client could reach
		}
		if phase := p.GetStatus().GetPhase(); phase == "Succeeded" || phase == "Failed" {
			continue
		}
		ports := resolvePorts(svc, p)
		key := portsKey(ports)
		s := byPorts[key]
		if s == nil {
			s = &skiffv1.EndpointSlice{AddressType: "IPv4", Ports: ports}
			byPorts[key] = s
		}
		serving := skiffv1.IsPodReady(p) && nodeServes(p.GetSpec().GetNodeName())
		terminating := p.GetMetadata().GetDeletionTimestamp() != nil
		var hostname string
		if p.GetSpec().GetSubdomain() == svc.GetMetadata().GetName() {
			hostname = p.GetSpec().GetHostname()
		}
		s.Endpoints = append(s.Endpoints, &skiffv1.ServiceEndpoint{
			Hostname:   hostname,
			Addresses:  []string{ip.String()},
			Conditions: &skiffv1.EndpointConditions{Ready: serving && !terminating, Serving: serving, Terminating: terminating},
			NodeName:   p.GetSpec().GetNodeName(),
			TargetRef: &skiffv1.ObjectReference{
				Kind: "Pod", Namespace: p.GetMetadata().GetNamespace(),
				Name: p.GetMetadata().GetName(), Uid: p.GetMetadata().GetUid(),
			},
		})
	}
	keys := make([]string, 0, len(byPorts))
	for k := range byPorts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*skiffv1.EndpointSlice, 0, len(keys))
	for _, k := range keys {
		s := byPorts[k]
		slices.SortFunc(s.Endpoints, func(a, b *skiffv1.ServiceEndpoint) int {
			ia, _ := netip.ParseAddr(a.Addresses[0])
			ib, _ := netip.ParseAddr(b.Addresses[0])
			return cmp.Or(ia.Compare(ib), strings.Compare(a.GetTargetRef().GetName(), b.GetTargetRef().GetName()))
		})
		out = append(out, s)
	}
	return out
}

// resolvePorts turns the service's ports into the pod's: a numeric or
// empty targetPort as it is, a named one through the pod's container ports
// of that name and protocol.
func resolvePorts(svc *skiffv1.Service, p *skiffv1.Pod) []*skiffv1.EndpointPort {
	var out []*skiffv1.EndpointPort
	for _, sp := range svc.GetSpec().GetPorts() {
		proto := cmp.Or(sp.GetProtocol(), "TCP")
		port, ok := targetPortOf(sp, proto, p)
		if !ok {
			continue
		}
		out = append(out, &skiffv1.EndpointPort{Name: sp.GetName(), Port: port, Protocol: proto})
	}
	return out
}

func targetPortOf(sp *skiffv1.ServicePort, proto string, p *skiffv1.Pod) (int32, bool) {
	tp := sp.GetTargetPort()
	if tp == "" {
		return sp.GetPort(), true
	}
	if n, err := strconv.ParseInt(tp, 10, 32); err == nil {
		return int32(n), n > 0 && n <= 65535
	}
	for _, c := range p.GetSpec().GetContainers() {
		for _, cp := range c.GetPorts() {
			if cp.GetName() == tp && cmp.Or(cp.GetProtocol(), "TCP") == proto {
				return cp.GetContainerPort(), true
			}
		}
	}
	return 0, false
}

func portsKey(ports []*skiffv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%d/%s,", p.GetName(), p.GetPort(), p.GetProtocol())
	}
	return b.String()
}
