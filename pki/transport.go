package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// HTTPTransport is an HTTP transport that trusts the cluster CA besides the
// system's roots: for the cluster's registry, which serves with the API
// server's certificate, and for any public one.
func HTTPTransport(ca *x509.Certificate) *http.Transport {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(ca)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t
}
