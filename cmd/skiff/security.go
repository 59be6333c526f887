package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/skiff-sh/skiff/apiserver/audit"
	"github.com/skiff-sh/skiff/apiserver/auth"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// serverPKI is the server's side of security: the cluster CA (made on
// first start), the server certificate, the join tokens, and what the
// server writes for the command line.
type serverPKI struct {
	dir    string // <data dir>/pki
	ca     *pki.CA
	server *pki.CertHolder
	tokens *pki.TokenStore
	token  pki.Token // the default join token, also in <data dir>/token
}

// setupServerPKI loads or makes the CA, a server certificate for the
// listen address and the given extra names, and the default join token.
func setupServerPKI(dataDir, listen string, sans []string) (*serverPKI, error) {
	p := &serverPKI{dir: filepath.Join(dataDir, "pki")}
	ca, _, err := pki.LoadOrCreateCA(p.dir, "skiff-ca")
	if err != nil {
		return nil, err
	}
	p.ca = ca
	spec := pki.ServerSpec{CommonName: pki.APIServer, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	if h, err := os.Hostname(); err == nil {
		spec.DNSNames = append(spec.DNSNames, h)
	}
	host, _, _ := net.SplitHostPort(listen)
	for _, name := range append([]string{host}, sans...) {
		if ip := net.ParseIP(name); ip != nil && !ip.IsUnspecified() {
			spec.IPs = append(spec.IPs, ip)
		} else if name != "" && ip == nil {
			spec.DNSNames = append(spec.DNSNames, name)
		}
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		spec.IPs = append(spec.IPs, hostIPs()...)
	}
	// A fresh server certificate on every start: cheap, and it always
	// names the current addresses.
	kp, err := ca.IssueServer(spec, time.Now())
	if err != nil {
		return nil, err
	}
	if _, _, err := kp.Write(p.dir, "server"); err != nil {
		return nil, err
	}
	p.server = pki.NewCertHolder(kp)
	p.tokens = pki.NewTokenStore(dataDir, ca.Cert)
	tokenFile := filepath.Join(dataDir, "token")
	if data, err := os.ReadFile(tokenFile); err == nil {
		if _, err := p.tokens.Validate(strings.TrimSpace(string(data))); err == nil {
			p.token, err = pki.ParseToken(strings.TrimSpace(string(data)))
			return p, err
		}
	}
	if p.token, err = p.tokens.Create(0, "default join token"); err != nil {
		return nil, err
	}
	return p, pki.WriteFile(tokenFile, []byte(p.token.String()+"\n"), 0o600)
}

// hostIPs are this machine's addresses, for a server listening on all.
func hostIPs() []net.IP {
	var out []net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}

// grpcOptions are the server's TLS and the interceptors that authenticate,
// audit and authorize every call.
func (p *serverPKI) grpcOptions(dataDir string, authz *auth.Authorizer, log *slog.Logger) ([]grpc.ServerOption, *audit.Logger, error) {
	al, err := audit.Open(audit.Options{Path: filepath.Join(dataDir, "audit", "audit.log")})
	if err != nil {
		return nil, nil, err
	}
	ic := &audit.Interceptor{Log: al, Errors: log}
	guard := &auth.Guard{
		Authn: &auth.Authenticator{Tokens: auth.JoinTokens{Store: p.tokens}},
		Authz: authz,
	}
	opts := append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(pki.ServerTLS(p.ca.Cert, p.server, pki.ClientCertOptional))),
	}, guard.ServerOptions([]grpc.UnaryServerInterceptor{ic.Unary}, []grpc.StreamServerInterceptor{ic.Stream})...)
	return opts, al, nil
}

// clientTLS is a client configuration for one of the server's own
// components (scheduler, controller, apiserver towards agents).
func (p *serverPKI) clientTLS(id pki.Identity) (*tls.Config, error) {
	kp, err := p.ca.IssueClient(id, 0, time.Now())
	if err != nil {
		return nil, err
	}
	return pki.ClientTLS(p.ca.Cert, pki.NewCertHolder(kp), ""), nil
}

// writeAdminConfig gives the command line an admin certificate next to its
// config file, and the CA to check the server with.
func (p *serverPKI) writeAdminConfig(path, addr string) error {
	kp, err := p.ca.IssueClient(pki.Identity{Name: pki.Admin}, 0, time.Now())
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	certPath, keyPath, err := kp.Write(dir, "admin")
	if err != nil {
		return err
	}
	caPath := filepath.Join(dir, "ca.crt")
	if err := pki.WriteFile(caPath, p.ca.CertPEM(), 0o644); err != nil {
		return err
	}
	return client.SaveConfig(path, &client.Config{Server: clientAddr(addr), CA: caPath, Cert: certPath, Key: keyPath})
}

// clientAddr turns a listen address into one a client can dial.
func clientAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

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

// issueNodeCredentials is `skiff up`'s shortcut: the server's own CA signs
// its local node's certificates directly, no join needed.
func (p *serverPKI) issueNodeCredentials(node string, addrs []string) (*nodeCredentials, error) {
	now := time.Now()
	ckp, err := p.ca.IssueClient(pki.NodeIdentity(node), 0, now)
	if err != nil {
		return nil, err
	}
	ips, names := splitAddrs(addrs)
	skp, err := p.ca.IssueNodeServing(node, ips, names, now)
	if err != nil {
		return nil, err
	}
	return newNodeCredentials(p.ca.Cert, ckp, skp, ""), nil
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

func splitAddrs(addrs []string) (ips []net.IP, names []string) {
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil {
			ips = append(ips, ip)
		} else if a != "" {
			names = append(names, a)
		}
	}
	return ips, names
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
