package auth

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/pki"
)

// NoCredentialMessage is what a caller with neither a certificate nor a
// token is told.
const NoCredentialMessage = "no client certificate or token: use the config written by skiff server (~/.skiff/config), or join with skiff agent --token"

// TokenAuthenticator turns a bearer token into an identity.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (pki.Identity, error)
}

// JoinTokens authenticates join tokens from a token store as Bootstrap.
type JoinTokens struct {
	Store *pki.TokenStore
}

// AuthenticateToken implements TokenAuthenticator.
func (j JoinTokens) AuthenticateToken(_ context.Context, token string) (pki.Identity, error) {
	info, err := j.Store.Validate(token)
	if err != nil {
		return pki.Identity{}, err
	}
	if info.UsageOrDefault() != pki.UsageJoin {
		return pki.Identity{}, fmt.Errorf("%w: it is a %s token, not a join token", pki.ErrTokenInvalid, info.UsageOrDefault())
	}
	return pki.Identity{Name: Bootstrap, Groups: []string{BootstrapGroup, "token:" + info.ID}}, nil
}

// Authenticator finds the caller's identity.
type Authenticator struct {
	// Tokens checks bearer tokens; nil refuses every token.
	Tokens TokenAuthenticator
	// Revoked, when set, reports certificates revoked before they expire
	// (those of deleted nodes); their holders are refused.
	Revoked func(serial *big.Int) bool
}

// Authenticate returns the caller's identity, or an Unauthenticated status.
// Only a certificate chain the TLS handshake verified counts: the raw
// peer certificates are never trusted on their own.
func (a *Authenticator) Authenticate(ctx context.Context) (pki.Identity, error) {
	p, _ := peer.FromContext(ctx)
	var tlsInfo *credentials.TLSInfo
	if p != nil {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			tlsInfo = &ti
		}
	}
	if tlsInfo != nil {
		for _, chain := range tlsInfo.State.VerifiedChains {
			if len(chain) > 0 && chain[0].Subject.CommonName != "" {
				if a.Revoked != nil && a.Revoked(chain[0].SerialNumber) {
					return pki.Identity{}, status.Errorf(codes.Unauthenticated, "certificate of %s revoked: its Node was deleted; remove the agent's <data dir>/pki and join again with a new token", chain[0].Subject.CommonName)
				}
				return pki.IdentityOf(chain[0].Subject), nil
			}
		}
	}
	token, found, err := bearerToken(ctx)
	if err != nil {
		return pki.Identity{}, err
	}
	if !found {
		return pki.Identity{}, status.Error(codes.Unauthenticated, NoCredentialMessage)
	}
	if tlsInfo == nil {
		// Never reached when the server serves TLS only; a guard against a
		// plain-text listener leaking tokens.
		return pki.Identity{}, status.Error(codes.Unauthenticated, "tokens are accepted over TLS only")
	}
	if a.Tokens == nil {
		return pki.Identity{}, status.Error(codes.Unauthenticated, "this server accepts no tokens: use a client certificate (~/.skiff/config)")
	}
	id, err := a.Tokens.AuthenticateToken(ctx, token)
	if err != nil {
		return pki.Identity{}, status.Errorf(codes.Unauthenticated, "token refused: %s", tokenReason(err))
	}
	return id, nil
}

// bearerToken reads "authorization: Bearer <token>".
func bearerToken(ctx context.Context) (token string, found bool, err error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(pki.AuthorizationHeader)
	if len(vals) == 0 {
		return "", false, nil
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false, status.Error(codes.Unauthenticated, `malformed authorization metadata: want "Bearer <token>"`)
	}
	return strings.TrimSpace(tok), true, nil
}

// tokenReason says why a token was refused without echoing it.
func tokenReason(err error) string {
	switch {
	case errors.Is(err, pki.ErrTokenExpired):
		return "it has expired; make a new one with skiff token create"
	case errors.Is(err, pki.ErrTokenRevoked):
		return "it was revoked; make a new one with skiff token create"
	case errors.Is(err, pki.ErrMalformedToken):
		return "it is malformed; expected K10<ca hash>::<id>.<secret>"
	case errors.Is(err, pki.ErrTokenInvalid):
		return "it is not known to this server"
	}
	return "it could not be checked"
}
