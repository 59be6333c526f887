package controlplane

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// issueNodeCredentials is `skiff up`'s shortcut: the server's own CA signs
// its local node's certificates directly, no join needed. The node is
// recorded as the server's own (no join can take its name), and its
// certificates as issued to it, so deleting the Node revokes them too.
func (p *serverPKI) issueNodeCredentials(node string, addrs []string) (*pki.NodeCredentials, error) {
	now := time.Now()
	ckp, err := p.ca.IssueClient(pki.NodeIdentity(node), 0, now)
	if err != nil {
		return nil, err
	}
	skp, err := p.ca.IssueNodeServing(node, ipsOf(addrs), nil, now)
	if err != nil {
		return nil, err
	}
	if err := p.nodes.ClaimLocal(node); err != nil {
		return nil, err
	}
	if err := p.nodes.Issued(node, ckp.Cert, skp.Cert); err != nil {
		return nil, err
	}
	return pki.NewNodeCredentials(p.ca.Cert, ckp, skp, ""), nil
}

// ipsOf is the IP addresses among addrs: a node's serving certificate
// names no DNS names.
func ipsOf(addrs []string) []net.IP {
	var ips []net.IP
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// revokeDeletedNodes watches Nodes and, when one is deleted, forgets its
// node password and revokes its certificates (pki.NodeStore.Delete): the
// API server then refuses them, renewal too, and the name may join anew.
// Nodes deleted while the server was down are caught at the first list.
func (p *serverPKI) revokeDeletedNodes(ctx context.Context, set *client.SharedInformers, log *slog.Logger) error {
	scope := set.NewScope()
	defer scope.Close()
	inf := client.Inform(scope, (*client.Client).Nodes, client.ListOptions{})
	revoke := func(name string) {
		if err := p.nodes.Delete(name); err != nil {
			log.Error("revoking a deleted node's certificates failed", "node", name, "err", err)
			return
		}
		log.Info("node deleted: its certificates are revoked", "node", name)
	}
	registered := func(n *skiffv1.Node) {
		if err := p.nodes.Registered(n.GetMetadata().GetName()); err != nil {
			log.Warn("recording a node failed", "node", n.GetMetadata().GetName(), "err", err)
		}
	}
	inf.AddHandler(client.Handler[*skiffv1.Node]{
		OnAdd:    registered,
		OnUpdate: func(_, n *skiffv1.Node) { registered(n) },
		OnDelete: func(n *skiffv1.Node) { revoke(n.GetMetadata().GetName()) },
	})
	scope.Start()
	if inf.WaitForSync(ctx) {
		for _, name := range p.nodes.RegisteredNodes() {
			if _, ok := inf.Get(client.Key("", name)); !ok {
				revoke(name)
			}
		}
	}
	<-ctx.Done()
	return nil
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
