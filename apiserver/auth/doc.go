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
// NodeRestriction for nodes: a node reads what it needs and writes only
// its own Node, events, usage for itself and the status of the pods bound
// to it (nodes.go). Methods the table does not know are admin-only, so a
// new RPC is closed until someone opens it here.
//
// The interceptors are split in two (authenticate, then authorize) so the
// audit log can sit between them and record who was refused what.
package auth
