package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
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

// componentTLS is a client configuration for one of the server's own
// components, its certificate re-issued on use.
func (p *serverPKI) componentTLS(id pki.Identity) (*tls.Config, error) {
	cfg, err := p.clientTLS(id)
	if err != nil {
		return nil, err
	}
	return reissueOnUse(cfg, func(now time.Time) (*pki.KeyPair, error) { return p.ca.IssueClient(id, 0, now) }), nil
}

// localNodeTLS is `skiff up`'s agent's TLS: certificates signed by the
// server's own CA and re-issued on use. A re-issued pair goes into the
// credentials' holders too, so the image transport presents it, and is
// recorded as the node's, so deleting the Node revokes it.
func (p *serverPKI) localNodeTLS(node string, addrs []string) (client, serving *tls.Config, images http.RoundTripper, err error) {
	creds, err := p.issueNodeCredentials(node, addrs)
	if err != nil {
		return nil, nil, nil, err
	}
	ips := ipsOf(addrs)
	keep := func(h *pki.CertHolder, kp *pki.KeyPair, err error) (*pki.KeyPair, error) {
		if err != nil {
			return nil, err
		}
		if err := p.nodes.Issued(node, kp.Cert); err != nil {
			return nil, err
		}
		h.Set(kp)
		return kp, nil
	}
	client = reissueOnUse(creds.ClientTLS(), func(now time.Time) (*pki.KeyPair, error) {
		kp, err := p.ca.IssueClient(pki.NodeIdentity(node), 0, now)
		return keep(creds.Client, kp, err)
	})
	serving = reissueOnUse(creds.ServingTLS(), func(now time.Time) (*pki.KeyPair, error) {
		kp, err := p.ca.IssueNodeServing(node, ips, nil, now)
		return keep(creds.Serving, kp, err)
	})
	return client, serving, creds.ImageTransport(), nil
}
