// Package ports holds the default port of every skiff component, in one
// place (the README lists them; defaults/ holds the network defaults).
// Kubernetes' numbers where they exist.
package ports

const (
	// API is the API server's gRPC port.
	API = 6443
	// Agent is the node agent's gRPC port (logs, exec).
	Agent = 10250
	// Registry is the embedded OCI registry.
	Registry = 5000
	// DNS is the cluster DNS server.
	DNS = 53
	// Etcd is the embedded etcd's client port (loopback only).
	Etcd = 2379
	// EtcdPeer is where an embedded etcd member of several servers
	// (skiff server --cluster-init, --server) serves the other members.
	EtcdPeer = 2380
	// ServerMetrics is where `skiff server` and `skiff up` serve /metrics:
	// just above Kubernetes' own ports (10248–10259), and outside
	// Prometheus's exporter range (9100–9999, all allocated) and its own
	// 9090, so Prometheus can run on the server's host.
	ServerMetrics = 10260
	// AgentMetrics is where a standalone agent serves /metrics.
	AgentMetrics = 10249
	// SchedulerMetrics, ControllerMetrics and DNSMetrics are where those
	// components serve /metrics when they run alone.
	SchedulerMetrics  = 10259
	ControllerMetrics = 10257
	DNSMetrics        = 9153
	// Dashboard is the web dashboard's HTTPS port (the Kubernetes
	// Dashboard's).
	Dashboard = 8443
)
