package auth

import (
	"context"

	"github.com/skiff-sh/skiff/pki"
)

// Identities beyond the ones certificates carry (pki.Admin, pki.Scheduler,
// pki.Controller, pki.NodePrefix+name).
const (
	// Bootstrap is a caller holding a join token: it may only ask for a
	// node certificate (MethodJoinSignNode).
	Bootstrap = "bootstrap"
	// BootstrapGroup is the group of every bootstrap identity; the token's
	// id is in a second group, "token:<id>", for the audit log.
	BootstrapGroup = "skiff:bootstrappers"
)

type identityKey struct{}

// NewContext returns ctx carrying the caller's identity.
func NewContext(ctx context.Context, id pki.Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity the authentication interceptor found.
func FromContext(ctx context.Context) (pki.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(pki.Identity)
	return id, ok
}
