package skiffv1

import (
	"cmp"
	"strings"
)

// Service types and the ClusterIP of a headless service, as Kubernetes
// spells them.
const (
	ServiceTypeClusterIP    = "ClusterIP"
	ServiceTypeNodePort     = "NodePort"
	ServiceTypeLoadBalancer = "LoadBalancer"
	ClusterIPNone           = "None"
	// LoadBalancerClassSkiff is the class of skiff's own load balancer
	// (ServiceLB): a LoadBalancer service of this class, or of none, is
	// answered on every node's address at its port.
	LoadBalancerClassSkiff = "skiff.sh/servicelb"
	// LoadBalancerIPModeVIP and LoadBalancerIPModeProxy are
	// status.loadBalancer.ingress[].ipMode's values.
	LoadBalancerIPModeVIP   = "VIP"
	LoadBalancerIPModeProxy = "Proxy"
)

// Session affinities and traffic policies, as Kubernetes spells them.
const (
	SessionAffinityNone     = "None"
	SessionAffinityClientIP = "ClientIP"
	TrafficPolicyCluster    = "Cluster"
	TrafficPolicyLocal      = "Local"
	// DefaultClientIPTimeout is Kubernetes' default affinity timeout in
	// seconds (3 hours); MaxClientIPTimeout its upper bound (a day).
	DefaultClientIPTimeout = 10800
	MaxClientIPTimeout     = 86400
)

// AffinityTimeout is how long a ClientIP service's affinity lasts in
// seconds; 0 when the service has none.
func AffinityTimeout(s *Service) int32 {
	if s.GetSpec().GetSessionAffinity() != SessionAffinityClientIP {
		return 0
	}
	cfg := s.GetSpec().GetSessionAffinityConfig().GetClientIp()
	if cfg == nil || cfg.TimeoutSeconds == nil {
		return DefaultClientIPTimeout
	}
	return cfg.GetTimeoutSeconds()
}

// IsHeadless says whether a service has no virtual IP: DNS answers with its
// pods' IPs and no proxy rules exist for it. A service stored before
// ClusterIPs existed has an empty one and is headless too.
func IsHeadless(s *Service) bool {
	ip := s.GetSpec().GetClusterIp()
	return ip == "" || ip == ClusterIPNone
}

// IsExternal says whether a service type takes traffic from outside the
// cluster (NodePort, LoadBalancer): the external traffic policy applies.
func IsExternal(s *ServiceSpec) bool {
	return s.GetType() == ServiceTypeNodePort || s.GetType() == ServiceTypeLoadBalancer
}

// AllocatesNodePorts says whether a service gets node ports for the ports
// that do not ask for one: NodePort services, and LoadBalancer ones unless
// allocateLoadBalancerNodePorts is false.
func AllocatesNodePorts(s *ServiceSpec) bool {
	switch s.GetType() {
	case ServiceTypeNodePort:
		return true
	case ServiceTypeLoadBalancer:
		return s.AllocateLoadBalancerNodePorts == nil || s.GetAllocateLoadBalancerNodePorts()
	}
	return false
}

// ServedBySkiffLB says whether skiff's own load balancer serves a service:
// a LoadBalancer one of skiff's class or of none.
func ServedBySkiffLB(s *ServiceSpec) bool {
	return s.GetType() == ServiceTypeLoadBalancer &&
		(s.LoadBalancerClass == nil || s.GetLoadBalancerClass() == LoadBalancerClassSkiff)
}

// OlderService orders services by creation, then by namespace and name:
// who keeps an address or port two services want (slices.SortFunc).
func OlderService(a, b *Service) int {
	ta, tb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
	return cmp.Or(ta.Compare(tb),
		strings.Compare(a.GetMetadata().GetNamespace(), b.GetMetadata().GetNamespace()),
		strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName()))
}
