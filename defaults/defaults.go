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
	// ServiceCIDR is where Services' ClusterIPs come from, as in
	// Kubernetes. Like the cluster CIDR it is blackholed on every node:
	// only the proxy's DNAT makes its addresses reachable, and nothing
	// sent to it ever leaves the machine.
	ServiceCIDR = "10.96.0.0/12"
	// NodePortMin and NodePortMax bound the ports NodePort services get,
	// as Kubernetes' --service-node-port-range.
	NodePortMin = 30000
	NodePortMax = 32767
	// ClusterDomain is the cluster DNS domain: <svc>.<ns>.svc.cluster.local.
	ClusterDomain = "cluster.local"
	// Bridge is the node bridge pods attach to; its address is the first
	// of the node's pod CIDR.
	Bridge = "skiff0"
	// NodeLeaseNamespace holds one Lease per node, named after it: the
	// agent's heartbeat, as Kubernetes' kube-node-lease.
	NodeLeaseNamespace = "kube-node-lease"
	// SystemNamespace holds what the cluster itself runs, as Kubernetes'
	// kube-system: the cluster DNS Service.
	SystemNamespace = "kube-system"
	// DNSService is the Service (in SystemNamespace) whose ClusterIP pods
	// send DNS queries to, as Kubernetes' kube-dns: the servers that serve
	// cluster DNS keep its Endpoints, and agents write its ClusterIP into
	// pods' resolv.conf.
	DNSService = "kube-dns"
	// DNSServiceIndex is the DNS Service's ClusterIP as an index into the
	// service CIDR: 10.96.0.10 in 10.96.0.0/12, as kubeadm picks it. The
	// API server hands out the addresses of the start of the range only
	// when asked for them by value, so it stays free.
	DNSServiceIndex = 10
	// NodeLeaseDurationSeconds is the duration an agent puts in its
	// node's Lease (Kubernetes' default, 40 s: the node grace period).
	NodeLeaseDurationSeconds = 40
)
