package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Files of a node's credentials in its directory (<agent data dir>/pki).
const (
	nodeCAFile       = "ca.crt"
	nodeClientName   = "node"    // node.crt, node.key
	nodeServingName  = "serving" // serving.crt, serving.key
	NodePasswordFile = "node-password"
)

// NodeCredentials are what a node agent presents: a client certificate for
// node:<name> towards the API server, a serving certificate for its own
// endpoint, and the cluster CA. The certificates are swapped in place on
// renewal, so the TLS configurations made from them stay current.
type NodeCredentials struct {
	CA      *x509.Certificate
	Client  *CertHolder
	Serving *CertHolder
	// Dir is where they are kept; empty for certificates that live in
	// memory only (skiff up's own agent).
	Dir string
}

// NewNodeCredentials holds the given pairs.
func NewNodeCredentials(ca *x509.Certificate, client, serving *KeyPair, dir string) *NodeCredentials {
	return &NodeCredentials{CA: ca, Client: NewCertHolder(client), Serving: NewCertHolder(serving), Dir: dir}
}

// ClientTLS is the node's configuration towards the API server.
func (c *NodeCredentials) ClientTLS() *tls.Config { return ClientTLS(c.CA, c.Client, "") }

// ServingTLS is the agent endpoint's: only the CA's clients get in.
func (c *NodeCredentials) ServingTLS() *tls.Config {
	return ServerTLS(c.CA, c.Serving, ClientCertRequired)
}

// ImageTransport pulls images, from the cluster registry as the node.
func (c *NodeCredentials) ImageTransport() http.RoundTripper {
	return RegistryTransport(c.CA, c.Client)
}

// JoinConfig is what an agent joins with.
type JoinConfig struct {
	// Server is the API server's host:port (an https:// prefix is fine).
	Server string
	// Token is the join token; empty when certificates of an earlier join
	// are kept in Dir.
	Token string
	Node  string
	Dir   string
	// Addresses the agent serves on: a hint the server may ignore.
	Addresses []string
}

// JoinNode is an agent's first contact: it checks the server's CA against
// the token's hash before sending anything, has the server sign
// certificates for node:<name> — proving with its node password, made on
// the first join and kept in Dir, that it is the machine that first
// joined under that name — and keeps them in Dir for later starts.
// Certificates of an earlier join are reused for the same node name and,
// when a token is given, the same cluster CA.
func JoinNode(ctx context.Context, cfg JoinConfig) (*NodeCredentials, error) {
	if creds, err := LoadNodeCredentials(cfg.Dir); err == nil && creds.Client.Current().Subject.CommonName == NodePrefix+cfg.Node {
		if tok, terr := ParseToken(cfg.Token); cfg.Token == "" || (terr == nil && tok.CAHash == CAHash(creds.CA)) {
			return creds, nil
		}
	}
	if cfg.Token == "" {
		return nil, errors.New("this node has no certificates yet: pass --token-file (the server writes one to <its data dir>/token; `skiff token create` makes more)")
	}
	tok, err := ParseToken(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	password, err := nodePassword(cfg.Dir)
	if err != nil {
		return nil, err
	}
	// Server may name several servers, comma-separated: the first that
	// signs is the one joined through.
	var joinErr error
	for _, addr := range strings.Split(cfg.Server, ",") {
		addr = strings.TrimPrefix(strings.TrimSpace(addr), "https://")
		if addr == "" {
			continue
		}
		creds, err := joinThrough(ctx, addr, tok, cfg, password)
		if err == nil {
			return creds, nil
		}
		joinErr = errors.Join(joinErr, err)
	}
	if joinErr == nil {
		joinErr = errors.New("no server address to join")
	}
	return nil, joinErr
}

// joinThrough joins through the server at addr.
func joinThrough(ctx context.Context, addr string, tok Token, cfg JoinConfig, password string) (*NodeCredentials, error) {
	ca, err := FetchCA(ctx, addr, tok)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(ClientTLS(ca, nil, ""))),
		grpc.WithPerRPCCredentials(BearerCredentials{Token: tok.Bearer()}))
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	defer conn.Close()
	client, serving, err := requestNodeCerts(ctx, skiffv1.NewJoinClient(conn).SignNode, cfg.Node, cfg.Addresses, password)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	creds := NewNodeCredentials(ca, client, serving, cfg.Dir)
	if err := WriteFile(filepath.Join(cfg.Dir, nodeCAFile), EncodeCert(ca.Raw), 0o644); err != nil {
		return nil, err
	}
	return creds, creds.write()
}

// nodePassword reads the node's password from dir, or makes and keeps one
// on the first join.
func nodePassword(dir string) (string, error) {
	path := filepath.Join(dir, NodePasswordFile)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("pki: node password: %w", err)
	}
	p, err := NewNodePassword()
	if err != nil {
		return "", err
	}
	return p, WriteFile(path, []byte(p+"\n"), 0o600)
}

type signCall func(ctx context.Context, req *skiffv1.SignNodeRequest, opts ...grpc.CallOption) (*skiffv1.SignNodeResponse, error)

// requestNodeCerts makes two keys and has call sign them.
func requestNodeCerts(ctx context.Context, call signCall, node string, addrs []string, password string) (client, serving *KeyPair, err error) {
	clientCSR, client, err := NewCSR(NodeIdentity(node))
	if err != nil {
		return nil, nil, err
	}
	servingCSR, serving, err := NewCSR(NodeIdentity(node))
	if err != nil {
		return nil, nil, err
	}
	resp, err := call(ctx, &skiffv1.SignNodeRequest{
		NodeName: node, ClientCsr: clientCSR, ServingCsr: servingCSR, ServingAddresses: addrs, NodePassword: password,
	})
	if err != nil {
		return nil, nil, err
	}
	if client, err = client.WithSignedChain(resp.ClientChain); err != nil {
		return nil, nil, err
	}
	if serving, err = serving.WithSignedChain(resp.ServingChain); err != nil {
		return nil, nil, err
	}
	return client, serving, nil
}

// LoadNodeCredentials reads the certificates of an earlier join, if they
// have not expired.
func LoadNodeCredentials(dir string) (*NodeCredentials, error) {
	ca, err := ReadCertFile(filepath.Join(dir, nodeCAFile))
	if err != nil {
		return nil, err
	}
	client, err := ReadKeyPair(filepath.Join(dir, nodeClientName+".crt"), filepath.Join(dir, nodeClientName+".key"))
	if err != nil {
		return nil, err
	}
	serving, err := ReadKeyPair(filepath.Join(dir, nodeServingName+".crt"), filepath.Join(dir, nodeServingName+".key"))
	if err != nil {
		return nil, err
	}
	if now := time.Now(); now.After(client.Cert.NotAfter) || now.After(serving.Cert.NotAfter) {
		return nil, errors.New("node certificates expired: join again with --token-file")
	}
	return NewNodeCredentials(ca, client, serving, dir), nil
}

func (c *NodeCredentials) write() error {
	if c.Dir == "" {
		return nil
	}
	for name, h := range map[string]*CertHolder{nodeClientName: c.Client, nodeServingName: c.Serving} {
		if _, _, err := h.keyPair().Write(c.Dir, name); err != nil {
			return err
		}
	}
	return nil
}

// Renew has the server sign new certificates for the node over conn (a
// connection authenticated as the node), swaps them in and writes them
// down. A node whose Node was deleted is refused.
func (c *NodeCredentials) Renew(ctx context.Context, conn grpc.ClientConnInterface, node string, addrs []string) error {
	client, serving, err := requestNodeCerts(ctx, skiffv1.NewJoinClient(conn).RenewNode, node, addrs, "")
	if err != nil {
		return err
	}
	c.Client.Set(client)
	c.Serving.Set(serving)
	return c.write()
}

// ServingCovers reports whether the serving certificate names the IP
// address addr (what the API server dials).
func (c *NodeCredentials) ServingCovers(addr string) bool {
	ip := net.ParseIP(addr)
	for _, have := range c.Serving.Current().IPAddresses {
		if ip != nil && have.Equal(ip) {
			return true
		}
	}
	return false
}

// minRenewInterval is the shortest time between two renewals that worked.
const minRenewInterval = time.Minute

// KeepRenewed renews the node's certificates at two thirds of their life
// (RenewAt) until ctx ends, retrying a failed renewal every minute. While
// the serving certificate lacks advertise (the address the API server
// dials, when the join came from another one) it renews a few times early:
// the server adds the address once the Node has registered it.
func (c *NodeCredentials) KeepRenewed(ctx context.Context, conn grpc.ClientConnInterface, node, advertise string, addrs []string, log *slog.Logger) {
	early := 15 * time.Second
	renewed := false
	for {
		wait := min(time.Until(RenewAt(c.Client.Current())), time.Until(RenewAt(c.Serving.Current())))
		if advertise != "" && !c.ServingCovers(advertise) && early <= 4*time.Minute {
			wait = min(wait, early)
			early *= 2
		}
		if renewed {
			// New certificates that are due at once (a server that signs
			// short lives, or a clock ahead of the server's) would
			// otherwise be renewed in a tight loop.
			wait = max(wait, minRenewInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 0)):
		}
		if err := c.Renew(ctx, conn, node, addrs); err != nil {
			log.Warn("renewing the node's certificates failed; retrying in a minute", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Minute):
			}
			continue
		}
		log.Info("node certificates renewed", "until", c.Client.Current().NotAfter)
		renewed = true
	}
}
