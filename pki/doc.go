// Package pki is skiff's certificate authority and join tokens: a CA made
// on a server's first start and kept in its data dir, server and client
// certificates whose subject carries the caller's identity, CSR signing for
// agents that join, renewal checks, TLS configurations pinned to the CA, and
// join tokens in k3s's form (K10<ca hash>::<id>.<secret>) with the
// client-side check that the server's CA matches the token before the
// secret is sent.
//
// Only the standard library's crypto is used. Keys are ECDSA P-256: small,
// fast to make on first start, and understood by every TLS stack.
//
// This package knows nothing about the API: the API server's authentication
// and authorization live in apiserver/auth, and the agent imports only this
// package to join.
package pki
