// Package ports holds the default address of every skiff component, in one
// place (the README lists them). Kubernetes' numbers where they exist.
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
	// ServerMetrics is where `skiff server` and `skiff up` serve /metrics.
	ServerMetrics = 9090
	// AgentMetrics is where a standalone agent serves /metrics.
	AgentMetrics = 10249
	// SchedulerMetrics, ControllerMetrics and DNSMetrics are where those
	// components serve /metrics when they run alone.
	SchedulerMetrics  = 10259
	ControllerMetrics = 10257
	DNSMetrics        = 9153
)
