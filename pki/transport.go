package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
)

// RegistryTransport is the HTTP transport for pulling and pushing images.
// Public registries are checked against the system's roots only; the
// cluster CA is never added to them. A certificate of the cluster CA is
// accepted only when it is the control plane's (it carries APIServerURI,
// as the cluster registry's does), so no other certificate the CA signed —
// a node's — can pose as a registry, public or not.
//
// client, when set, is presented to a server that asks for a certificate
// of the cluster CA (the cluster registry authenticates with it), never to
// one that asks for another CA's.
func RegistryTransport(ca *x509.Certificate, client *CertHolder) *http.Transport {
	cluster := x509.NewCertPool()
	cluster.AddCert(ca)
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is VerifyConnection's: the chain is checked against
		// one pool or the other, with the name, below.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyRegistry(cs, cluster)
		},
	}
	if client != nil {
		cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			for _, name := range cri.AcceptableCAs {
				if bytes.Equal(name, ca.RawSubject) {
					return client.get()
				}
			}
			return &tls.Certificate{}, nil // none for other servers
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return t
}

func verifyRegistry(cs tls.ConnectionState, cluster *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("pki: the registry presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{DNSName: cs.ServerName, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	opts.Roots = cluster
	if _, err := leaf.Verify(opts); err == nil {
		if !HasURI(leaf, APIServerURI) {
			return fmt.Errorf("pki: registry certificate %q is from the cluster CA but not the control plane's (no %s)", leaf.Subject.CommonName, APIServerURI)
		}
		return nil
	}
	opts.Roots = nil // the system's roots
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("pki: registry certificate: %w", err)
	}
	return nil
}
