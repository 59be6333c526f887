// Package controlplane assembles what `skiff server` runs — the API server
// on etcd with its PKI (cluster CA, server certificate, join tokens),
// authorization and audit log, the registry, the leader-elected scheduler
// and controllers, and cluster DNS — from one Config. cmd/skiff only turns
// flags into that Config; `skiff up` adds a node agent beside it.
package controlplane
