package pki

import (
	"crypto/x509"
	"fmt"
	"time"
)

// NeedsRenewal reports whether cert has used two thirds of its lifetime
// (or is already expired): early enough that an agent which is down for a
// while still renews before the server starts refusing it.
func NeedsRenewal(cert *x509.Certificate, now time.Time) bool {
	return !now.Before(RenewAt(cert))
}

// RenewAt is when NeedsRenewal turns true.
func RenewAt(cert *x509.Certificate) time.Time {
	life := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotBefore.Add(life / 3 * 2)
}

// VerifyClient checks that cert was issued by ca for client auth and is
// valid at now, and returns its identity.
func VerifyClient(ca *x509.Certificate, cert *x509.Certificate, now time.Time) (Identity, error) {
	return verify(ca, cert, now, x509.ExtKeyUsageClientAuth)
}

// VerifyServer checks that cert was issued by ca for server auth and is
// valid at now for host (a DNS name or IP; empty skips the name check).
func VerifyServer(ca *x509.Certificate, cert *x509.Certificate, host string, now time.Time) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("pki: server certificate %q: %w", cert.Subject.CommonName, err)
	}
	return nil
}

func verify(ca, cert *x509.Certificate, now time.Time, usage x509.ExtKeyUsage) (Identity, error) {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return Identity{}, fmt.Errorf("pki: certificate %q: %w", cert.Subject.CommonName, err)
	}
	return IdentityOf(cert.Subject), nil
}
