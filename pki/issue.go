package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// LeafValidity is how long server and client certificates last by default.
// Agents renew theirs at two thirds of it (NeedsRenewal).
const LeafValidity = 365 * 24 * time.Hour

// KeyPair is an issued certificate and its key. Chain holds the issuing CA
// after the leaf so a TLS peer always gets the CA too: a joining agent
// compares that CA with its token's hash.
type KeyPair struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// ServerSpec says what a server certificate is for.
type ServerSpec struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	// URIs are URI SANs naming the server's role (APIServerURI).
	URIs []string
	// Validity defaults to LeafValidity.
	Validity time.Duration
}

// IssueServer makes a key and a server certificate for the given names.
func (ca *CA) IssueServer(spec ServerSpec, now time.Time) (*KeyPair, error) {
	if len(spec.DNSNames) == 0 && len(spec.IPs) == 0 {
		return nil, errors.New("pki: a server certificate needs at least one DNS name or IP")
	}
	cn := spec.CommonName
	if cn == "" {
		cn = "skiff-server"
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := ca.leafTemplate(Identity{Name: cn}, spec.Validity, now)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.DNSNames = append([]string(nil), spec.DNSNames...)
	tmpl.IPAddresses = append([]net.IP(nil), spec.IPs...)
	for _, u := range spec.URIs {
		parsed, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("pki: server certificate URI %q: %w", u, err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	return ca.sign(tmpl, key.Public(), key)
}

// IssueClient makes a key and a client certificate for id.
func (ca *CA) IssueClient(id Identity, validity time.Duration, now time.Time) (*KeyPair, error) {
	if id.Name == "" {
		return nil, errors.New("pki: a client certificate needs an identity")
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := ca.leafTemplate(id, validity, now)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return ca.sign(tmpl, key.Public(), key)
}

// IssueNodeServing makes the certificate a node agent serves logs and exec
// with: server auth for its addresses, and the node's identity in the
// subject so the API server can check it dialled the right node.
func (ca *CA) IssueNodeServing(node string, ips []net.IP, dnsNames []string, now time.Time) (*KeyPair, error) {
	kp, err := ca.IssueServer(ServerSpec{CommonName: NodePrefix + node, IPs: ips, DNSNames: dnsNames}, now)
	if err != nil {
		return nil, fmt.Errorf("pki: node %s serving certificate: %w", node, err)
	}
	return kp, nil
}

func (ca *CA) leafTemplate(id Identity, validity time.Duration, now time.Time) *x509.Certificate {
	if validity <= 0 {
		validity = LeafValidity
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter // never outlive the issuer
	}
	return &x509.Certificate{
		Subject:               id.subject(),
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		IsCA:                  false,
		BasicConstraintsValid: true,
	}
}

func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*KeyPair, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	return &KeyPair{Cert: cert, Key: key, Chain: []*x509.Certificate{cert, ca.Cert}}, nil
}

// TLSCertificate is the pair in the form crypto/tls serves, with the CA
// after the leaf.
func (kp *KeyPair) TLSCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: kp.Key, Leaf: kp.Cert}
	for _, x := range kp.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	if len(c.Certificate) == 0 {
		c.Certificate = [][]byte{kp.Cert.Raw}
	}
	return c
}

// CertPEM is the chain (leaf first) in PEM form.
func (kp *KeyPair) CertPEM() []byte {
	var out []byte
	for _, c := range kp.chain() {
		out = append(out, EncodeCert(c.Raw)...)
	}
	return out
}

func (kp *KeyPair) chain() []*x509.Certificate {
	if len(kp.Chain) == 0 {
		return []*x509.Certificate{kp.Cert}
	}
	return kp.Chain
}

// Write stores the pair as dir/<name>.crt (the chain) and dir/<name>.key
// (0600) and returns both paths.
func (kp *KeyPair) Write(dir, name string) (certPath, keyPath string, err error) {
	if kp.Key == nil {
		return "", "", errors.New("pki: key pair has no private key to write")
	}
	keyPEM, err := EncodeKey(kp.Key)
	if err != nil {
		return "", "", err
	}
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := WriteFile(certPath, kp.CertPEM(), 0o644); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// ReadKeyPair reads a pair written by Write (or any PEM cert and key).
func ReadKeyPair(certPath, keyPath string) (*KeyPair, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	certs, err := ParseCerts(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, certPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, keyPath)
	}
	if !publicKeysEqual(certs[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("pki: %s does not match %s", keyPath, certPath)
	}
	return &KeyPair{Cert: certs[0], Key: key, Chain: certs}, nil
}
