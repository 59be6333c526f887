package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// NewCSR makes a fresh key and a certificate request for it, as a joining
// agent does. The subject is a hint only: the signer decides the identity.
func NewCSR(id Identity) (csrPEM []byte, kp *KeyPair, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: id.subject()}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: make CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), &KeyPair{Key: key}, nil
}

// SignCSR issues a client certificate for the CSR's key with the identity
// id, whatever subject the CSR asked for: the server picks who the caller
// is (from its token or current certificate), never the caller. Returns
// the chain in PEM form (leaf, then CA).
func (ca *CA) SignCSR(csrPEM []byte, id Identity, validity time.Duration, now time.Time) ([]byte, error) {
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if id.Name == "" {
		return nil, errors.New("pki: signing a CSR needs an identity")
	}
	tmpl := ca.leafTemplate(id, validity, now)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	kp, err := ca.sign(tmpl, csr.PublicKey, nil)
	if err != nil {
		return nil, err
	}
	return kp.CertPEM(), nil
}

// WithSignedChain completes the pair NewCSR returned with the chain the
// server signed (SignCSR's result), checking that it is for this key.
func (kp *KeyPair) WithSignedChain(chainPEM []byte) (*KeyPair, error) {
	certs, err := ParseCerts(chainPEM)
	if err != nil {
		return nil, err
	}
	if kp.Key == nil || !publicKeysEqual(certs[0].PublicKey, kp.Key.Public()) {
		return nil, errors.New("pki: the signed certificate is not for this key")
	}
	return &KeyPair{Cert: certs[0], Key: kp.Key, Chain: certs}, nil
}

// parseCSR reads a PEM CSR and checks it is signed by its own key (proof
// the requester holds the key).
func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("pki: no CERTIFICATE REQUEST in PEM data")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: CSR signature: %w", err)
	}
	return csr, nil
}
