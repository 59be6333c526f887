package pki

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrCAMismatch is returned when a server's CA is not the one a join
// token names: the joiner reached another cluster, or an impostor.
var ErrCAMismatch = errors.New("the server's CA does not match the join token")

// FetchCA dials addr (host:port) over TLS, takes the certificate chain the
// server presents and returns the CA in it whose hash is tok.CAHash, after
// checking that the server's own certificate was issued by that CA for the
// dialled host. Nothing but a TLS handshake is sent — no token, no
// certificate — so a server that fails the check never sees the secret.
// The returned CA is what the joiner pins from then on (ClientTLS).
//
// The handshake skips verification on purpose (the joiner has no CA yet);
// the hash comparison and the verification below replace it.
func FetchCA(ctx context.Context, addr string, tok Token) (*x509.Certificate, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pki: join address %q: %w", addr, err)
	}
	d := tls.Dialer{Config: &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // checked against the token's hash below
		NextProtos:         []string{"h2"},
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pki: fetch CA from %s: %w", addr, err)
	}
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	conn.Close()
	return pinnedCA(chain, tok, host, time.Now())
}

// pinnedCA finds the token's CA in chain and checks the leaf against it.
func pinnedCA(chain []*x509.Certificate, tok Token, host string, now time.Time) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("pki: %w: the server presented no certificate", ErrCAMismatch)
	}
	var ca *x509.Certificate
	for _, c := range chain[1:] {
		if c.IsCA && subtle.ConstantTimeCompare([]byte(CAHash(c)), []byte(tok.CAHash)) == 1 {
			ca = c
			break
		}
	}
	if ca == nil {
		got := "none"
		if len(chain) > 1 {
			got = CAHash(chain[len(chain)-1])
		}
		return nil, fmt.Errorf("pki: %w: token wants CA %.12s…, server presents %.12s… — check the --server address and that the token came from that server", ErrCAMismatch, tok.CAHash, got)
	}
	if err := VerifyServer(ca, chain[0], host, now); err != nil {
		return nil, fmt.Errorf("pki: %w: %w", ErrCAMismatch, err)
	}
	if !HasURI(chain[0], APIServerURI) {
		return nil, fmt.Errorf("pki: %w: the certificate at %s is not the API server's (no %s)", ErrCAMismatch, host, APIServerURI)
	}
	return ca, nil
}
