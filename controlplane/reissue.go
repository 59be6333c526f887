package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/pki"
)

// reissuer re-issues the certificate of one of this process's own
// components (scheduler, controllers, the API server towards agents,
// `skiff up`'s agent) from the cluster CA the process holds, when a
// handshake would use it past two thirds of its life. They run as long as
// the server does; their certificates must not run out under them, and
// nothing needs a timer or a restart.
type reissuer struct {
	issue func(now time.Time) (*pki.KeyPair, error)
	now   func() time.Time

	mu    sync.Mutex
	fresh *tls.Certificate // the latest issued here; nil until the first
}

// reissueOnUse makes cfg's certificate callbacks (pki.ClientTLS's or
// ServerTLS's) go through a reissuer.
func reissueOnUse(cfg *tls.Config, issue func(now time.Time) (*pki.KeyPair, error)) *tls.Config {
	return reissueOnUseAt(cfg, issue, time.Now)
}

func reissueOnUseAt(cfg *tls.Config, issue func(now time.Time) (*pki.KeyPair, error), now func() time.Time) *tls.Config {
	r := &reissuer{issue: issue, now: now}
	if get := cfg.GetClientCertificate; get != nil {
		cfg.GetClientCertificate = func(i *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return r.current(func() (*tls.Certificate, error) { return get(i) })
		}
	}
	if get := cfg.GetCertificate; get != nil {
		cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.current(func() (*tls.Certificate, error) { return get(h) })
		}
	}
	return cfg
}

// current is the certificate to present: the held one (from held) until
// it is due for renewal, then a new one. If issuing fails, the old one is
// presented while it is valid and issuing is tried again on the next use.
func (r *reissuer) current(held func() (*tls.Certificate, error)) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.fresh
	if cur == nil {
		c, err := held()
		if err != nil {
			return nil, err
		}
		cur = c
	}
	now := r.now()
	leaf, err := leafOf(cur)
	if err != nil || !pki.NeedsRenewal(leaf, now) {
		return cur, nil
	}
	kp, err := r.issue(now)
	if err != nil {
		if now.Before(leaf.NotAfter) {
			return cur, nil
		}
		return nil, err
	}
	c := kp.TLSCertificate()
	r.fresh = &c
	return r.fresh, nil
}

func leafOf(c *tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	return x509.ParseCertificate(c.Certificate[0])
}
