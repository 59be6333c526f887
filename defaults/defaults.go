// Package defaults holds the cluster-wide defaults every component must
// agree on — the pod network, the cluster DNS domain, the node bridge — in
// one place, next to ports/ (the default port of every component). A flag
// or Config field that defaults to one of these uses the constant, never a
// copy of its value.
package defaults

const (
	// ClusterCIDR is the pod network; each node gets a /24 of it. It is
	// also what a `skiff cluster` lab uses: its nodes never see each
	// other's routes outside their own network namespaces.
	ClusterCIDR = "10.88.0.0/16"
	// ClusterDomain is the cluster DNS domain: <svc>.<ns>.svc.cluster.local.
	ClusterDomain = "cluster.local"
	// Bridge is the node bridge pods attach to; its address is the first
	// of the node's pod CIDR.
	Bridge = "skiff0"
)
