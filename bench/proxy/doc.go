// Package proxy benchmarks skiff's service proxy (nodeagent/proxy) on the
// real kernel, in network namespaces the run makes and removes: the time
// from a changed endpoint to the rules in the kernel at 100, 1,000 and
// 5,000 services × 10 endpoints (whole-table rewrite and partial update),
// and TCP connection setup through a ClusterIP with skiff's verdict-map
// table against an iptables-style table of the same services (one rule
// per service in a linear chain, as kube-proxy's iptables mode has) and
// against connecting to the pod IP directly, at 1,000 and 5,000 services.
//
//	go test ./bench/proxy -run '^$' -bench . -benchtime 1x
//
// `go test` alone does a small smoke run. Needs root.
package proxy
