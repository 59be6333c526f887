package skiffv1

// Service types and the ClusterIP of a headless service, as Kubernetes
// spells them.
const (
	ServiceTypeClusterIP = "ClusterIP"
	ServiceTypeNodePort  = "NodePort"
	ClusterIPNone        = "None"
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
