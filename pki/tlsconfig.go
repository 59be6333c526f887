package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
)

// CertHolder holds the certificate a TLS endpoint presents, swappable while
// connections use it: an agent that renews its certificate stores the new
// one and the next handshake uses it, with no restart.
type CertHolder struct {
	cur atomic.Pointer[heldCert]
}

type heldCert struct {
	tls tls.Certificate
	kp  *KeyPair
}

// NewCertHolder holds kp.
func NewCertHolder(kp *KeyPair) *CertHolder {
	h := &CertHolder{}
	h.Set(kp)
	return h
}

// Set replaces the held certificate.
func (h *CertHolder) Set(kp *KeyPair) {
	h.cur.Store(&heldCert{tls: kp.TLSCertificate(), kp: kp})
}

// Current is the held certificate's leaf (nil when empty).
func (h *CertHolder) Current() *x509.Certificate {
	if c := h.cur.Load(); c != nil {
		return c.tls.Leaf
	}
	return nil
}

func (h *CertHolder) keyPair() *KeyPair { return h.cur.Load().kp }

func (h *CertHolder) get() (*tls.Certificate, error) {
	if c := h.cur.Load(); c != nil {
		return &c.tls, nil
	}
	return nil, errors.New("pki: no certificate held")
}

// ClientCertPolicy says whether a server demands a client certificate.
type ClientCertPolicy int

const (
	// ClientCertOptional verifies a client certificate when one is sent
	// (a certificate from another CA fails the handshake) but lets a
	// client without one finish the handshake, so a joining agent can
	// call in with its token alone. The API server's interceptors then
	// refuse whatever that caller may not do.
	ClientCertOptional ClientCertPolicy = iota
	// ClientCertRequired refuses the handshake without a certificate from
	// the CA: for agents' endpoints, which only the API server dials.
	ClientCertRequired
)

// ServerTLS is the TLS configuration of a server presenting the held
// certificate and checking client certificates against ca. TLS 1.2 is the
// minimum; gRPC's ALPN ("h2") is set by grpc's credentials.
func ServerTLS(ca *x509.Certificate, cert *CertHolder, policy ClientCertPolicy) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	auth := tls.VerifyClientCertIfGiven
	if policy == ClientCertRequired {
		auth = tls.RequireAndVerifyClientCert
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientCAs:  pool,
		ClientAuth: auth,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cert.get()
		},
	}
}

// ClientTLS is the TLS configuration of a client of the API server: it
// trusts only ca, requires the server's certificate to carry APIServerURI
// (so no other certificate of the CA — a node's — passes for the API
// server), and presents the held certificate (nil: none, as a joining
// agent before it has one). serverName overrides the name checked against
// the server's certificate; empty lets gRPC use the dialled host.
func ClientTLS(ca *x509.Certificate, cert *CertHolder, serverName string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: serverName, VerifyConnection: requireAPIServer}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert.get()
		}
	}
	return cfg
}

// requireAPIServer is a VerifyConnection check (after the chain and name
// were verified) that the peer is the API server.
func requireAPIServer(cs tls.ConnectionState) error {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return errors.New("pki: server certificate not verified")
	}
	if leaf := cs.VerifiedChains[0][0]; !HasURI(leaf, APIServerURI) {
		return fmt.Errorf("pki: the server's certificate %q is not the API server's (no %s): another certificate of the cluster CA, a node's perhaps", leaf.Subject.CommonName, APIServerURI)
	}
	return nil
}
