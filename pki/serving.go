package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// SignServingCSR issues the serving certificate of a node agent's endpoint
// (logs, exec) for the CSR's key: server auth for the given addresses, CN
// node:<name>, so the API server can check it reached the node it meant
// (ExpectPeer). The server, not the CSR, decides name and addresses.
func (ca *CA) SignServingCSR(csrPEM []byte, node string, ips []net.IP, dnsNames []string, validity time.Duration, now time.Time) ([]byte, error) {
	if len(ips) == 0 && len(dnsNames) == 0 {
		return nil, errors.New("pki: a serving certificate needs at least one IP or DNS name")
	}
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	tmpl := ca.leafTemplate(NodeIdentity(node), validity, now)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.IPAddresses = append([]net.IP(nil), ips...)
	tmpl.DNSNames = append([]string(nil), dnsNames...)
	kp, err := ca.sign(tmpl, csr.PublicKey, nil)
	if err != nil {
		return nil, err
	}
	return kp.CertPEM(), nil
}

// ExpectPeer adds to a client TLS configuration the check that the
// server's verified certificate names identity (e.g. "node:n1"): a node
// agent's certificate is valid for its own address only by SAN, and this
// also stops one node's agent standing in for another's.
func ExpectPeer(cfg *tls.Config, identity string) *tls.Config {
	c := cfg.Clone()
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
			return fmt.Errorf("pki: peer certificate not verified; want %s", identity)
		}
		if got := cs.VerifiedChains[0][0].Subject.CommonName; got != identity {
			return fmt.Errorf("pki: peer is %q, want %q", got, identity)
		}
		return nil
	}
	return c
}
