// Package rangealloc keeps which numbers of a range (a service CIDR's
// addresses, the node port range) are taken, to find a free one quickly.
// It is only a hint: what is allocated is decided in etcd, where each
// taken value is a claim key created in the same transaction as the object
// that holds it (as Kubernetes' IPAddress objects do for ClusterIPs), so
// two API servers or a restart never hand out one value twice. A hint
// that is wrong costs a retry, never a duplicate.
package rangealloc
