package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// UsageServer lets another server join the control plane (and so receive
// the CA key): the token `skiff server --cluster-init` writes to
// <data dir>/server-token.
const UsageServer = "server"

// EtcdPeerCN names the certificates embedded etcd members present to each
// other; members admit only peers with it.
const EtcdPeerCN = "etcd-peer"

// IssueEtcdPeer makes the certificate an embedded etcd member presents to
// the other members, as server and as client (etcd peers dial each other),
// for the addresses it serves peers on.
func (ca *CA) IssueEtcdPeer(ips []net.IP, dnsNames []string, now time.Time) (*KeyPair, error) {
	if len(ips) == 0 && len(dnsNames) == 0 {
		return nil, errors.New("pki: an etcd peer certificate needs at least one address")
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := ca.leafTemplate(Identity{Name: EtcdPeerCN}, 0, now)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	tmpl.IPAddresses = append([]net.IP(nil), ips...)
	tmpl.DNSNames = append([]string(nil), dnsNames...)
	return ca.sign(tmpl, key.Public(), key)
}

// Import keeps a token made by another server of the same cluster (a
// joining server keeps the server token it joined with, so the next server
// may join through it too). A token already kept is left as it is.
func (s *TokenStore) Import(tok Token, usage, description string) error {
	if tok.CAHash != s.caHash {
		return fmt.Errorf("pki: %w: it was made for another cluster's CA", ErrTokenInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	infos, err := s.load()
	if err != nil {
		return err
	}
	if _, ok := find(infos, tok.ID); ok {
		return nil
	}
	infos = append(infos, TokenInfo{
		ID: tok.ID, SecretHash: hashSecret(tok.Secret), Description: description,
		Created: s.now().UTC(), Expires: tok.Expires.UTC(), Usage: usage,
	})
	return s.save(infos)
}
