package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controlplane"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// nodeCredentials are what an agent presents: a client certificate for
// node:<name> towards the API server, and a serving certificate for its
// own endpoint.
type nodeCredentials struct {
	client  *tls.Config // towards the API server
	serving *tls.Config // the agent's endpoint, for the API server only
	// The certificates behind them, swapped in place on renewal, and
	// where they are kept (empty for `skiff up`'s, which live in memory).
	clientCert, servingCert *pki.CertHolder
	dir                     string
	// images trusts the cluster CA, for pulls from the cluster registry.
	images http.RoundTripper
	caHash string // of the cluster CA, as join tokens carry it
}

// upNodeCredentials is `skiff up`'s shortcut: the server's own CA signs
// its local node's certificates directly, no join needed.
func upNodeCredentials(cp *controlplane.ControlPlane, node string, addrs []string) (*nodeCredentials, error) {
	certs, err := cp.IssueNodeCertificates(node, addrs)
	if err != nil {
		return nil, err
	}
	return newNodeCredentials(certs.CA, certs.Client, certs.Serving, ""), nil
}

func newNodeCredentials(ca *x509.Certificate, client, serving *pki.KeyPair, dir string) *nodeCredentials {
	c := &nodeCredentials{
		clientCert: pki.NewCertHolder(client), servingCert: pki.NewCertHolder(serving),
		dir: dir, images: pki.HTTPTransport(ca), caHash: pki.CAHash(ca),
	}
	c.client = pki.ClientTLS(ca, c.clientCert, "")
	c.serving = pki.ServerTLS(ca, c.servingCert, pki.ClientCertRequired)
	return c
}

// joinCluster is an agent's first contact: it checks the server's CA
// against the token's hash before sending anything, has the server sign
// certificates for node:<name>, and keeps them in dir for later starts.
func joinCluster(ctx context.Context, server, token, node, dir string, addrs []string) (*nodeCredentials, error) {
	caPath := filepath.Join(dir, "ca.crt")
	// Certificates of an earlier join are reused only for the same node
	// name and, when a token is given, the same cluster CA: a renamed node
	// or a new cluster joins anew.
	if creds, err := loadNodeCredentials(dir); err == nil && creds.clientCert.Current().Subject.CommonName == pki.NodePrefix+node {
		if tok, terr := pki.ParseToken(token); token == "" || (terr == nil && tok.CAHash == creds.caHash) {
			return creds, nil
		}
	}
	if token == "" {
		return nil, errors.New("this node has no certificates yet: pass --token (the server writes one to <its data dir>/token; `skiff token create` makes more)")
	}
	tok, err := pki.ParseToken(token)
	if err != nil {
		return nil, fmt.Errorf("--token: %w", err)
	}
	addr := strings.TrimPrefix(server, "https://")
	ca, err := pki.FetchCA(ctx, addr, tok)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	clientCSR, clientKP, err := pki.NewCSR(pki.NodeIdentity(node))
	if err != nil {
		return nil, err
	}
	servingCSR, servingKP, err := pki.NewCSR(pki.NodeIdentity(node))
	if err != nil {
		return nil, err
	}
	c, err := client.New(addr, client.Options{
		TLS:         pki.ClientTLS(ca, nil, ""),
		DialOptions: []grpc.DialOption{grpc.WithPerRPCCredentials(pki.BearerCredentials{Token: tok.Bearer()})},
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	resp, err := skiffv1.NewJoinClient(c.Conn()).SignNode(ctx, &skiffv1.SignNodeRequest{
		NodeName: node, ClientCsr: clientCSR, ServingCsr: servingCSR, ServingAddresses: addrs,
	})
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	if clientKP, err = clientKP.WithSignedChain(resp.ClientChain); err != nil {
		return nil, err
	}
	if servingKP, err = servingKP.WithSignedChain(resp.ServingChain); err != nil {
		return nil, err
	}
	if err := pki.WriteFile(caPath, pki.EncodeCert(ca.Raw), 0o644); err != nil {
		return nil, err
	}
	if _, _, err := clientKP.Write(dir, "node"); err != nil {
		return nil, err
	}
	if _, _, err := servingKP.Write(dir, "serving"); err != nil {
		return nil, err
	}
	return loadNodeCredentials(dir)
}

// loadNodeCredentials reads the certificates of an earlier join, if they
// are still good for a while.
func loadNodeCredentials(dir string) (*nodeCredentials, error) {
	ca, err := pki.ReadCertFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	ckp, err := pki.ReadKeyPair(filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key"))
	if err != nil {
		return nil, err
	}
	skp, err := pki.ReadKeyPair(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key"))
	if err != nil {
		return nil, err
	}
	if now := time.Now(); now.After(ckp.Cert.NotAfter) || now.After(skp.Cert.NotAfter) {
		return nil, errors.New("node certificates expired: join again with --token")
	}
	return newNodeCredentials(ca, ckp, skp, dir), nil
}

// renewNodeCredentials keeps a joined node's certificates fresh: at two
// thirds of their life it asks the server (as the node, over mutual TLS)
// to sign new ones, swaps them in and writes them down.
func renewNodeCredentials(ctx context.Context, c *client.Client, creds *nodeCredentials, node string, addrs []string, log *slog.Logger) {
	for {
		wait := time.Until(pki.RenewAt(creds.clientCert.Current()))
		if w := time.Until(pki.RenewAt(creds.servingCert.Current())); w < wait {
			wait = w
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 0)):
		}
		if err := renewOnce(ctx, c, creds, node, addrs); err != nil {
			log.Warn("renewing the node's certificates failed; retrying in a minute", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Minute):
			}
			continue
		}
		log.Info("node certificates renewed", "until", creds.clientCert.Current().NotAfter)
	}
}

func renewOnce(ctx context.Context, c *client.Client, creds *nodeCredentials, node string, addrs []string) error {
	clientCSR, clientKP, err := pki.NewCSR(pki.NodeIdentity(node))
	if err != nil {
		return err
	}
	servingCSR, servingKP, err := pki.NewCSR(pki.NodeIdentity(node))
	if err != nil {
		return err
	}
	resp, err := skiffv1.NewJoinClient(c.Conn()).RenewNode(ctx, &skiffv1.SignNodeRequest{
		NodeName: node, ClientCsr: clientCSR, ServingCsr: servingCSR, ServingAddresses: addrs,
	})
	if err != nil {
		return err
	}
	if clientKP, err = clientKP.WithSignedChain(resp.ClientChain); err != nil {
		return err
	}
	if servingKP, err = servingKP.WithSignedChain(resp.ServingChain); err != nil {
		return err
	}
	if creds.dir != "" {
		if _, _, err := clientKP.Write(creds.dir, "node"); err != nil {
			return err
		}
		if _, _, err := servingKP.Write(creds.dir, "serving"); err != nil {
			return err
		}
	}
	creds.clientCert.Set(clientKP)
	creds.servingCert.Set(servingKP)
	return nil
}
