package controlplane

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/audit"
	"github.com/skiff-sh/skiff/apiserver/auth"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
)

// serverPKI is the server's side of security: the cluster CA (made on
// first start), the server certificate, the join tokens, and what the
// server writes for the command line.
type serverPKI struct {
	dir    string // <data dir>/pki
	ca     *pki.CA
	server *pki.CertHolder
	// serverSpec is what the server certificate names, for re-issuing it.
	serverSpec pki.ServerSpec
	// now is the clock of re-issues; time.Now when nil (tests set it).
	now    func() time.Time
	tokens *pki.TokenStore
	nodes  *pki.NodeStore
	token  pki.Token // the default join token, also in <data dir>/token
	// tokenFile is <data dir>/token.
	tokenFile string
}

// DefaultTokenTTL is how long the join token the server writes to
// <data dir>/token works, as kubeadm's bootstrap tokens. The server writes
// a fresh one when it expires; `skiff token create --ttl` makes others.
const DefaultTokenTTL = 24 * time.Hour

// etcdServerCN names the embedded etcd's serving certificate.
const etcdServerCN = "etcd"

// embeddedEtcdTLS makes the embedded etcd's serving certificate (loopback
// names) and the client configuration of the server's own components: etcd
// then refuses any client without a certificate for pki.EtcdClient.
func (p *serverPKI) embeddedEtcdTLS() (*apiserver.EtcdServing, *tls.Config, error) {
	now := time.Now()
	kp, err := p.ca.IssueServer(pki.ServerSpec{CommonName: etcdServerCN, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}, now)
	if err != nil {
		return nil, nil, err
	}
	certFile, keyFile, err := kp.Write(p.dir, "etcd-server")
	if err != nil {
		return nil, nil, err
	}
	client, err := p.ca.IssueClient(pki.Identity{Name: pki.EtcdClient}, 0, now)
	if err != nil {
		return nil, nil, err
	}
	// Kept (0600, root's) for standalone schedulers and controllers on
	// this host, which elect their leader in this etcd.
	clientCert, clientKey, err := client.Write(p.dir, "etcd-client")
	if err != nil {
		return nil, nil, err
	}
	serving := &apiserver.EtcdServing{
		CertFile: certFile, KeyFile: keyFile, CAFile: filepath.Join(p.dir, pki.CACertFile),
		ClientCertFile: clientCert, ClientKeyFile: clientKey, AllowedCNs: []string{pki.EtcdClient},
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.ca.Pool(), Certificates: []tls.Certificate{client.TLSCertificate()}}
	return serving, cfg, nil
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
	spec := pki.ServerSpec{
		CommonName: pki.APIServer, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		URIs: []string{pki.APIServerURI},
	}
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
	p.server, p.serverSpec = pki.NewCertHolder(kp), spec
	if p.nodes, err = pki.OpenNodeStore(p.dir); err != nil {
		return nil, err
	}
	p.tokens = pki.NewTokenStore(dataDir, ca.Cert)
	p.tokenFile = filepath.Join(dataDir, "token")
	return p, p.refreshDefaultToken()
}

// refreshDefaultToken keeps a working join token in <data dir>/token:
// the one there while it is valid, else a new one for DefaultTokenTTL.
func (p *serverPKI) refreshDefaultToken() error {
	if data, err := os.ReadFile(p.tokenFile); err == nil {
		if info, err := p.tokens.Validate(strings.TrimSpace(string(data))); err == nil {
			p.token, err = pki.ParseToken(strings.TrimSpace(string(data)))
			p.token.Expires = info.Expires
			return err
		}
	}
	tok, err := p.tokens.Create(DefaultTokenTTL, "default join token (<data dir>/token)")
	if err != nil {
		return err
	}
	p.token = tok
	return pki.WriteFile(p.tokenFile, []byte(tok.String()+"\n"), 0o600)
}

// keepDefaultToken replaces <data dir>/token when it expires, until ctx
// ends.
func (p *serverPKI) keepDefaultToken(ctx context.Context, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
		before := p.token.ID
		if err := p.refreshDefaultToken(); err != nil {
			log.Warn("refreshing the default join token failed", "err", err)
		} else if p.token.ID != before {
			log.Info("the default join token expired; a new one is in the token file", "file", p.tokenFile, "ttl", DefaultTokenTTL)
		}
	}
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

// openAuditLog opens <data dir>/audit/audit.log.
func openAuditLog(dataDir string) (*audit.Logger, error) {
	return audit.Open(audit.Options{Path: filepath.Join(dataDir, "audit", "audit.log")})
}

// serverCreds is the API server's TLS: its certificate, and client
// certificates of the cluster CA checked when presented.
func (p *serverPKI) serverCreds() grpc.ServerOption {
	return grpc.Creds(credentials.NewTLS(p.servingTLS()))
}

// servingTLS is the TLS of what serves with the server certificate (the
// API, the registry). A server runs for longer than its certificate
// lives: past two thirds of its life the next handshake re-issues it (and
// writes it down), so it never runs out under a running server.
func (p *serverPKI) servingTLS() *tls.Config {
	now := p.now
	if now == nil {
		now = time.Now
	}
	return reissueOnUseAt(pki.ServerTLS(p.ca.Cert, p.server, pki.ClientCertOptional), func(t time.Time) (*pki.KeyPair, error) {
		kp, err := p.ca.IssueServer(p.serverSpec, t)
		if err != nil {
			return nil, err
		}
		if _, _, err := kp.Write(p.dir, "server"); err != nil {
			return nil, err
		}
		p.server.Set(kp)
		return kp, nil
	}, now)
}

// guardOptions are the interceptors that authenticate, audit and
// authorize every call.
func (p *serverPKI) guardOptions(al *audit.Logger, authz *auth.Authorizer, log *slog.Logger) []grpc.ServerOption {
	ic := &audit.Interceptor{Log: al, Errors: log}
	guard := &auth.Guard{
		Authn: &auth.Authenticator{Tokens: serverTokens{store: p.tokens, join: auth.JoinTokens{Store: p.tokens}}, Revoked: p.nodes.Revoked},
		Authz: authz,
	}
	return guard.ServerOptions([]grpc.UnaryServerInterceptor{ic.Unary}, []grpc.StreamServerInterceptor{ic.Stream})
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

// adminRegistryTransport pushes to the cluster registry as an admin (the
// demo image `skiff up` puts there).
func (p *serverPKI) adminRegistryTransport() (http.RoundTripper, error) {
	kp, err := p.ca.IssueClient(pki.Identity{Name: pki.Admin}, 0, time.Now())
	if err != nil {
		return nil, err
	}
	return pki.RegistryTransport(p.ca.Cert, pki.NewCertHolder(kp)), nil
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
	var servers []string
	for _, a := range client.SplitServers(addr) {
		servers = append(servers, clientAddr(a))
	}
	return client.SaveServerConfig(path, &client.Config{Server: strings.Join(servers, ","), CA: caPath, Cert: certPath, Key: keyPath})
}

// clientAddr turns a listen address into one a client can dial.
func clientAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
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
