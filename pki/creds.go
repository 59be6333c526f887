package pki

import (
	"context"

	"google.golang.org/grpc/credentials"
)

// AuthorizationHeader is the metadata key a bearer token travels in.
const AuthorizationHeader = "authorization"

// BearerCredentials sends "authorization: Bearer <token>" with every call.
// It refuses to send over a connection without transport security, so a
// token cannot leak through a plain-text dial by mistake.
type BearerCredentials struct {
	Token string
}

var _ credentials.PerRPCCredentials = BearerCredentials{}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b BearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthorizationHeader: "Bearer " + b.Token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (BearerCredentials) RequireTransportSecurity() bool { return true }
