package skiffv1

// Service types and the ClusterIP of a headless service, as Kubernetes
// spells them.
const (
	ServiceTypeClusterIP = "ClusterIP"
	ServiceTypeNodePort  = "NodePort"
	ClusterIPNone        = "None"
)

// IsHeadless says whether a service has no virtual IP: DNS answers with its
// pods' IPs and no proxy rules exist for it. A service stored before
// ClusterIPs existed has an empty one and is headless too.
func IsHeadless(s *Service) bool {
	ip := s.GetSpec().GetClusterIp()
	return ip == "" || ip == ClusterIPNone
}
