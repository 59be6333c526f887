// Package pki is skiff's certificate authority and join: a CA made on a
// server's first start and kept in its data dir, server and client
// certificates whose subject carries the caller's identity, CSR signing for
// agents that join, TLS configurations pinned to the CA and to the API
// server's identity (APIServerURI), join tokens in k3s's form
// (K10<ca hash>::<id>.<secret>) with the client-side check that the
// server's CA matches the token before the secret is sent, the server's
// node store (k3s-style node passwords, certificates revoked when a Node
// is deleted), and the agent's side of joining and renewing (JoinNode,
// NodeCredentials) over the Join service.
//
// Only the standard library's crypto is used. Keys are ECDSA P-256: small,
// fast to make on first start, and understood by every TLS stack.
//
// The API server's authentication and authorization live in
// apiserver/auth; this package knows the Join service's messages only.
package pki
