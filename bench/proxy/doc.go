// Package proxy benchmarks skiff's service proxy (nodeagent/proxy) on the
// real kernel, in network namespaces the run makes and removes:
//
//   - sync time: from a changed endpoint to the new table in the kernel
//     (one whole-table netlink transaction) at 100, 1,000 and 5,000
//     services × 10 endpoints;
//   - connection setup through a ClusterIP (TCP connect from a pod, DNAT
//     to another pod) with skiff's verdict-map table against an
//     iptables-style table of the same services (one rule per service in
//     a linear chain, as kube-proxy's iptables mode has), and against
//     connecting to the pod IP directly, at 1,000 and 5,000 services.
//
//     go test ./bench/proxy -run '^$' -bench . -benchtime 1x
//
// `go test` alone does a small smoke run. Needs root.
package proxy
