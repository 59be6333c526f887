// Package network gives pods of one node their network: a node bridge
// holding the first address of the node's pod CIDR, one veth pair per pod
// (host end in the bridge, pod end "eth0" in the pod's network namespace),
// addresses from an on-disk IPAM, a default route via the bridge, and the
// /etc/hosts and /etc/resolv.conf a pod sees.
//
// It knows nothing about the skiff API: the node agent passes plain values
// (CIDRs, pod IDs, the path of a pod's pinned network namespace, as
// nodeagent/runtime's Sandbox.NetNS gives it) and gets plain values back.
//
// Safety: Setup always installs a blackhole route for the whole cluster
// CIDR, so pod traffic for other nodes' CIDRs never leaves the node by a
// default route; only routes given to SetPeerRoutes (host-gw) are more
// specific. Everything acts in Config.HostNetNS when it is set, so tests
// run whole "nodes" inside network namespaces they made.
//
// IPv4 only: neither end of a pod's veth gets an IPv6 link-local address
// (a pod's lo keeps ::1).
package network
