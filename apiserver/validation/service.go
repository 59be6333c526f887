package validation

import (
	"net/netip"
	"strconv"

	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// validateService checks a Service's type, ports, cluster IPs and
// traffic policies.
func validateService(e *errs, s *skiffv1.ServiceSpec) {
	checkLabels(e, "spec.selector", s.GetSelector())
	switch t := s.GetType(); t {
	case skiffv1.ServiceTypeClusterIP, skiffv1.ServiceTypeNodePort:
	case "LoadBalancer":
		e.add("spec.type", "LoadBalancer is not supported by skiff yet (no load balancer to provision); use NodePort, which every node answers on")
	case "ExternalName":
		e.add("spec.type", "ExternalName is not supported by skiff yet; use ClusterIP or NodePort")
	default:
		e.add("spec.type", "%q is not a service type; use ClusterIP or NodePort", t)
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
	nodePort := s.GetType() == skiffv1.ServiceTypeNodePort
	if nodePort && ip == skiffv1.ClusterIPNone {
		e.add("spec.clusterIP", "None: a NodePort service needs a ClusterIP; leave clusterIP out")
	}
	validateServicePolicies(e, s)
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
			e.add(path, "may only be set when spec.type is NodePort")
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
	case s.GetType() != skiffv1.ServiceTypeNodePort:
		e.add("spec.externalTrafficPolicy", "may only be set for a NodePort service (traffic from outside the cluster)")
	case p != skiffv1.TrafficPolicyCluster && p != skiffv1.TrafficPolicyLocal:
		e.add("spec.externalTrafficPolicy", "%q is not a traffic policy; use Cluster or Local", p)
	}
	if p := s.GetInternalTrafficPolicy(); p != "" && p != skiffv1.TrafficPolicyCluster && p != skiffv1.TrafficPolicyLocal {
		e.add("spec.internalTrafficPolicy", "%q is not a traffic policy; use Cluster or Local", p)
	}
}
