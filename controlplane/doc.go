// Package controlplane assembles what `skiff server` runs — the API server
// on etcd (embedded with TLS, or external) with its PKI (cluster CA, server
// certificate, join tokens, node records), authentication, authorization
// and audit log, the registry, the leader-elected scheduler and
// controllers, and cluster DNS with the kube-dns Service over every live
// server — from one Config. cmd/skiff only turns
// flags into that Config; `skiff up` adds a node agent beside it, with
// certificates from LocalNodeTLS.
package controlplane
