// Package auth decides who is calling the API server and what they may do.
//
// Authentication: a client certificate verified by the TLS handshake
// against the cluster CA (its subject CN is the identity: "admin",
// "node:<name>", "scheduler", "controller"), or, failing that, a bearer
// token in the "authorization" metadata, which the configured
// TokenAuthenticator turns into an identity — a join token becomes
// "bootstrap", allowed only to ask for a node certificate.
//
// Authorization: a fixed table per identity (rules.go), with Kubernetes'
// Node authorizer and NodeRestriction for nodes (nodes.go): a node reads
// only the pods bound to it, the volumes they use and nodes, and writes
// only its own Node, the status of its pods, events about those (at a
// limited rate) and usage for its own pods. The stored objects decide,
// never the request. Methods the table does not know are admin-only, so a
// new RPC is closed until someone opens it here.
//
// The interceptors are split in two (authenticate, then authorize) so the
// audit log can sit between them and record who was refused what.
package auth
