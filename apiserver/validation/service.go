package validation

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// validateService checks a Service's type, ports, cluster IPs and
// traffic policies.
func validateService(e *errs, s *skiffv1.ServiceSpec) {
	checkLabels(e, "spec.selector", s.GetSelector())
	switch t := s.GetType(); t {
	case skiffv1.ServiceTypeClusterIP, skiffv1.ServiceTypeNodePort, skiffv1.ServiceTypeLoadBalancer:
	case "ExternalName":
		e.add("spec.type", "ExternalName is not supported by skiff yet; use ClusterIP, NodePort or LoadBalancer")
	default:
		e.add("spec.type", "%q is not a service type; use ClusterIP, NodePort or LoadBalancer", t)
	}
	ip := s.GetClusterIp()
	if ip != "" && ip != skiffv1.ClusterIPNone {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			e.add("spec.clusterIP", "%q is not an IPv4 address; leave it out to get one, or set None for a headless service", ip)
		}
	}
	switch ips := s.GetClusterIps(); {
	case len(ips) > 1:
		e.add("spec.clusterIPs", "skiff is single-stack: at most one address")
	case len(ips) == 1 && ips[0] != ip:
		e.add("spec.clusterIPs", "%q must equal spec.clusterIP %q", ips[0], ip)
	}
	nodePort := s.GetType() == skiffv1.ServiceTypeNodePort || s.GetType() == skiffv1.ServiceTypeLoadBalancer
	if nodePort && ip == skiffv1.ClusterIPNone {
		e.add("spec.clusterIP", "None: a %s service needs a ClusterIP; leave clusterIP out", s.GetType())
	}
	validateServicePolicies(e, s)
	validateLoadBalancer(e, s)
	type portKey struct {
		n     int32
		proto string
	}
	nodePorts := map[portKey]bool{}
	for i, p := range s.GetPorts() {
		path := idx("spec.ports", i) + ".nodePort"
		switch {
		case p.NodePort == 0:
		case !nodePort:
			e.add(path, "may only be set when spec.type is NodePort or LoadBalancer")
		case p.NodePort < defaults.NodePortMin || p.NodePort > defaults.NodePortMax:
			e.add(path, "%d is outside the node port range %d-%d", p.NodePort, defaults.NodePortMin, defaults.NodePortMax)
		case nodePorts[portKey{p.NodePort, p.Protocol}]:
			e.add(path, "%d is used by another port of this service", p.NodePort)
		}
		nodePorts[portKey{p.NodePort, p.Protocol}] = true
	}
	names := map[string]bool{}
	for i, p := range s.GetPorts() {
		path := idx("spec.ports", i)
		checkPort(e, path+".port", p.Port, true)
		checkOneOf(e, path+".protocol", p.Protocol, "TCP", "UDP")
		if len(s.Ports) > 1 && p.Name == "" {
			e.add(path+".name", "required when a service has more than one port")
		}
		if p.Name != "" {
			if !portName.MatchString(p.Name) || len(p.Name) > 15 {
				e.add(path+".name", "%q is not a valid port name", p.Name)
			}
			if names[p.Name] {
				e.add(path+".name", "%q is used by another port", p.Name)
			}
			names[p.Name] = true
		}
		if n, err := strconv.Atoi(p.TargetPort); err == nil {
			checkPort(e, path+".targetPort", int32(n), true)
		} else if !portName.MatchString(p.TargetPort) {
			e.add(path+".targetPort", "%q is neither a port number nor a port name", p.TargetPort)
		}
	}
}

// validateServicePolicies checks session affinity and the traffic
// policies, with Kubernetes' rules and messages.
func validateServicePolicies(e *errs, s *skiffv1.ServiceSpec) {
	switch s.GetSessionAffinity() {
	case "", skiffv1.SessionAffinityNone:
		if s.GetSessionAffinityConfig() != nil {
			e.add("spec.sessionAffinityConfig", "must not be set when spec.sessionAffinity is None")
		}
	case skiffv1.SessionAffinityClientIP:
		if t := s.GetSessionAffinityConfig().GetClientIp(); t != nil && t.TimeoutSeconds != nil &&
			(t.GetTimeoutSeconds() < 1 || t.GetTimeoutSeconds() > skiffv1.MaxClientIPTimeout) {
			e.add("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "%d must be between 1 and %d seconds", t.GetTimeoutSeconds(), skiffv1.MaxClientIPTimeout)
		}
	default:
		e.add("spec.sessionAffinity", "%q is not a session affinity; use None or ClientIP", s.GetSessionAffinity())
	}
	switch p := s.GetExternalTrafficPolicy(); {
	case p == "":
	case !skiffv1.IsExternal(s) && len(s.GetExternalIps()) == 0:
		e.add("spec.externalTrafficPolicy", "may only be set for a NodePort or LoadBalancer service, or one with externalIPs (traffic from outside the cluster)")
	case p != skiffv1.TrafficPolicyCluster && p != skiffv1.TrafficPolicyLocal:
		e.add("spec.externalTrafficPolicy", "%q is not a traffic policy; use Cluster or Local", p)
	}
	if p := s.GetInternalTrafficPolicy(); p != "" && p != skiffv1.TrafficPolicyCluster && p != skiffv1.TrafficPolicyLocal {
		e.add("spec.internalTrafficPolicy", "%q is not a traffic policy; use Cluster or Local", p)
	}
}

// validateLoadBalancer checks the LoadBalancer fields and externalIPs, with
// Kubernetes' rules.
func validateLoadBalancer(e *errs, s *skiffv1.ServiceSpec) {
	lb := s.GetType() == skiffv1.ServiceTypeLoadBalancer
	if s.LoadBalancerClass != nil {
		switch c := s.GetLoadBalancerClass(); {
		case !lb:
			e.add("spec.loadBalancerClass", "may only be set when spec.type is LoadBalancer")
		case labels.ValidateKey(c) != nil || !strings.Contains(c, "/"):
			e.add("spec.loadBalancerClass", "%q is not a qualified name with a domain prefix (e.g. %s)", c, skiffv1.LoadBalancerClassSkiff)
		}
	}
	if s.AllocateLoadBalancerNodePorts != nil && !lb {
		e.add("spec.allocateLoadBalancerNodePorts", "may only be set when spec.type is LoadBalancer")
	}
	for i, r := range s.GetLoadBalancerSourceRanges() {
		path := idx("spec.loadBalancerSourceRanges", i)
		switch p, err := netip.ParsePrefix(strings.TrimSpace(r)); {
		case !lb:
			e.add(path, "may only be set when spec.type is LoadBalancer")
		case err != nil || !p.Addr().Is4():
			e.add(path, "%q is not an IPv4 CIDR (e.g. 192.0.2.0/24)", r)
		}
	}
	seen := map[netip.Addr]bool{}
	for i, a := range s.GetExternalIps() {
		path := idx("spec.externalIPs", i)
		ip, err := netip.ParseAddr(a)
		switch {
		case err != nil || !ip.Is4():
			e.add(path, "%q is not an IPv4 address", a)
		case ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			e.add(path, "%s may not be unspecified, loopback, link-local, multicast or broadcast", a)
		case seen[ip]:
			e.add(path, "%s is listed twice", a)
		}
		seen[ip] = true
	}
}

// validateServiceStatus checks the addresses a load balancer wrote.
func validateServiceStatus(e *errs, st *skiffv1.ServiceStatus) {
	for i, in := range st.GetLoadBalancer().GetIngress() {
		path := idx("status.loadBalancer.ingress", i)
		if a := in.GetIp(); a != "" {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
				e.add(path+".ip", "%q is not an IPv4 address", a)
			}
		}
		if in.IpMode != nil {
			switch {
			case in.GetIp() == "":
				e.add(path+".ipMode", "may only be set with ip")
			case in.GetIpMode() != skiffv1.LoadBalancerIPModeVIP && in.GetIpMode() != skiffv1.LoadBalancerIPModeProxy:
				e.add(path+".ipMode", "%q is not an ipMode; use VIP or Proxy", in.GetIpMode())
			}
		}
	}
}
