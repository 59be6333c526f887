// Package proxy is skiff's kube-proxy: on every node it turns Services
// with a ClusterIP (and their node ports and external addresses) and
// their Endpoints into one nftables table, "ip skiff-proxy", in the
// manner of kube-proxy's nftables mode: a verdict map from ClusterIP . protocol . port to one
// chain per service port, which DNATs to a ready endpoint picked with
// `numgen random mod N` from an anonymous map of ip . port. Lookups cost the
// same at 10 services or 10,000 (no linear chain of rules per service).
//
// sessionAffinity ClientIP keeps, per service port, a map from client
// address to the endpoint its last connection went to, with the service's
// timeout: the packet path fills and refreshes it, and an entry whose
// endpoint is gone is deleted and picked anew. externalTrafficPolicy Local
// sends a node port to a second chain that keeps only this node's
// endpoints and does not masquerade (the pod sees the client's address),
// dropping when there are none; the node's own connections and pods' go
// to the cluster chain instead, as kube-proxy short-circuits them.
// internalTrafficPolicy Local keeps only this node's endpoints for the
// ClusterIP.
//
// External addresses take a service port's traffic as its node port
// does, through the same ClusterIP map (key address . protocol . port,
// under the same external traffic policy): a service's externalIPs and
// the VIP-mode ingress addresses of its load balancer on every node, and
// for a LoadBalancer service that skiff's own load balancer (ServiceLB,
// controller/servicelb) has given addresses, the node's own address at
// the service's port, as k3s's ServiceLB answers on every node. One
// address at one port goes to one service: a ClusterIP first, then the
// older service. A load balancer's addresses of a service with
// loadBalancerSourceRanges go first to a chain of their own that lets
// those prefixes on and drops the rest (kube-proxy's firewall chains).
//
// A ClusterIP port without ready endpoints refuses connections (ICMP port
// unreachable, "connection refused" to the client) rather than dropping
// them, as kube-proxy does, so clients fail fast instead of timing out.
//
// The first sync writes the whole table in one netlink batch (delete and
// add in a single transaction), so a packet sees the old rules or the new,
// never a table half filled. Later syncs change only what changed, also in
// one transaction: the chains of service ports whose endpoints changed are
// refilled, those of ports added or removed are added or deleted with
// their map entries (kube-proxy's partial syncs). Traffic through a
// service is masqueraded (kube-proxy's --masquerade-all) except under
// externalTrafficPolicy Local: replies come back through the node that
// translated them, whether the endpoint is another pod on the same bridge,
// on another node, or the client pod itself (hairpin).
//
// Conntrack keeps a UDP flow translated to the endpoint it first went to
// while its packets keep coming, even after that endpoint's rule is gone:
// after each sync the proxy deletes the entries of UDP flows answered by
// an endpoint that a ClusterIP or node port no longer has, as kube-proxy
// does, so a resolver's next query goes to a live DNS pod.
//
// The node's own processes reach ClusterIPs through the output hook; the
// network package routes their service traffic past the service CIDR's
// blackhole route (see network.EnsureServiceRoute).
package proxy
