package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
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
func (p *serverPKI) grpcOptions(al *audit.Logger, pods auth.PodLookup, log *slog.Logger) []grpc.ServerOption {
	ic := &audit.Interceptor{Log: al, Errors: log}
	guard := &auth.Guard{
		Authn: &auth.Authenticator{Tokens: auth.JoinTokens{Store: p.tokens}},
		Authz: &auth.Authorizer{Pods: pods},
	}
	opts := append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(pki.ServerTLS(p.ca.Cert, p.server, pki.ClientCertOptional))),
	}, guard.ServerOptions([]grpc.UnaryServerInterceptor{ic.Unary}, []grpc.StreamServerInterceptor{ic.Stream})...)
	return opts
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

// NodeCertificates are a node's key pairs signed by the cluster CA: a
// client certificate for node:<name> and a serving certificate for its
// endpoint.
type NodeCertificates struct {
	CA              *x509.Certificate
	Client, Serving *pki.KeyPair
}

// IssueNodeCertificates is `skiff up`'s shortcut: the server's own CA signs
// its local node's certificates directly, no join needed. It fails on an
// insecure control plane.
func (cp *ControlPlane) IssueNodeCertificates(node string, addrs []string) (NodeCertificates, error) {
	if cp.pki == nil {
		return NodeCertificates{}, errors.New("controlplane: no certificates without TLS (--insecure)")
	}
	now := time.Now()
	ckp, err := cp.pki.ca.IssueClient(pki.NodeIdentity(node), 0, now)
	if err != nil {
		return NodeCertificates{}, err
	}
	ips, names := splitAddrs(addrs)
	skp, err := cp.pki.ca.IssueNodeServing(node, ips, names, now)
	if err != nil {
		return NodeCertificates{}, err
	}
	return NodeCertificates{CA: cp.pki.ca.Cert, Client: ckp, Serving: skp}, nil
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
