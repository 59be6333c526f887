package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/ports"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Files of a server that is one of several, in its data dir.
const (
	// serverNameFile holds the server's name (its etcd member's), made
	// on the first start: hostname-<random>, as k3s names its members.
	serverNameFile = "server-name"
	// ServerTokenFile holds the token other servers join with.
	ServerTokenFile = "server-token"
	// joinedFile holds the etcd cluster a joining server was given, so a
	// server that stopped before its member first started starts the
	// same way again.
	joinedFile = "etcd-initial-cluster"
)

// cluster is a server's place among several: its name, its etcd member's
// peer URL and how that member starts (no peer URL: the servers share an
// external etcd).
type cluster struct {
	name           string
	peerURL        string
	initialCluster string
	state          string // "new" or "existing"
	// servers are the API addresses the joined server listed.
	servers []string
	// joinToken is the server token this server joined with (kept in its
	// own token store, so a further server may join through it).
	joinToken *pki.Token
}

// clustered reports whether the config asks for a server of several.
func (c Config) clustered() bool { return c.ClusterInit || c.JoinServer != "" }

// prepareCluster settles the server's name and, for a server joining
// another (--server), fetches the cluster's CA, Secret keys and etcd
// membership before anything reads the data dir. Nil when the server is
// not one of several.
func prepareCluster(ctx context.Context, cfg Config) (*cluster, error) {
	if !cfg.clustered() {
		return nil, nil
	}
	switch {
	case cfg.ClusterInit && cfg.JoinServer != "":
		return nil, errors.New("--cluster-init starts a new cluster and --server joins one: give one of them")
	case cfg.Insecure:
		return nil, errors.New("--cluster-init and --server need TLS: etcd peers authenticate with certificates of the cluster CA (drop --insecure)")
	}
	name, err := serverName(cfg)
	if err != nil {
		return nil, err
	}
	// On an external etcd the servers share it already: joining hands
	// over the CA and Secret keys only, and there is no member to add.
	peer := ""
	if len(cfg.EtcdEndpoints) == 0 {
		if peer, err = peerURL(cfg); err != nil {
			return nil, err
		}
	}
	c := &cluster{name: name, peerURL: peer, state: "new"}
	if cfg.ClusterInit {
		c.initialCluster = name + "=" + peer
		return c, nil
	}
	c.state = "existing"
	tok, err := pki.ParseToken(cfg.JoinToken)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w (use the server token, <first server's data dir>/%s)", err, ServerTokenFile)
	}
	c.joinToken = &tok
	if isEtcdMember(cfg.DataDir) || (peer == "" && fileExists(filepath.Join(cfg.DataDir, "pki", pki.CAKeyFile))) {
		return c, nil // joined before: the member knows its cluster
	}
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, joinedFile)); err == nil && len(b) > 0 {
		c.initialCluster = strings.TrimSpace(string(b))
		return c, nil
	}
	return c, joinCluster(ctx, cfg, c, tok)
}

// joinCluster asks the server at --server to add this one: the CA is
// checked against the token's hash before the token is sent.
func joinCluster(ctx context.Context, cfg Config, c *cluster, tok pki.Token) error {
	addr := strings.TrimPrefix(strings.TrimPrefix(cfg.JoinServer, "https://"), "http://")
	ca, err := pki.FetchCA(ctx, addr, tok)
	if err != nil {
		return fmt.Errorf("join server %s: %w", addr, err)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLS(ca, nil, ""))),
		grpc.WithPerRPCCredentials(pki.BearerCredentials{Token: tok.String()}))
	if err != nil {
		return fmt.Errorf("join server %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := askToJoin(ctx, skiffv1.NewServerJoinClient(conn), &skiffv1.JoinServerRequest{Name: c.name, PeerUrl: c.peerURL})
	if err != nil {
		return fmt.Errorf("join server %s: %w", addr, err)
	}
	got, err := pki.ParseCerts(resp.GetCaCert())
	if err != nil || len(got) == 0 || pki.CAHash(got[0]) != tok.CAHash {
		return fmt.Errorf("join server %s: %w", addr, pki.ErrCAMismatch)
	}
	dir := filepath.Join(cfg.DataDir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, pki.CACertFile), resp.GetCaCert(), 0o644); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, pki.CAKeyFile), resp.GetCaKey(), 0o600); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, secretKeysFile), resp.GetSecretKeys(), 0o600); err != nil {
		return err
	}
	if err := shareAgentToken(cfg.DataDir, got[0], resp); err != nil {
		return err
	}
	c.initialCluster, c.servers = resp.GetInitialCluster(), resp.GetServers()
	if c.peerURL == "" {
		return nil
	}
	return pki.WriteFile(filepath.Join(cfg.DataDir, joinedFile), []byte(c.initialCluster+"\n"), 0o600)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// secretKeysFile is the API server's default file of Secret keys, under
// the pki directory.
const secretKeysFile = "secret-encryption-keys"

// writeNew writes data to path unless the file is there with the same
// content; other content is an error: the data dir belongs to another
// cluster.
func writeNew(path string, data []byte, mode os.FileMode) error {
	old, err := os.ReadFile(path)
	if err == nil {
		if string(old) == string(data) {
			return nil
		}
		return fmt.Errorf("%s exists and differs from the cluster's: this data dir belongs to another cluster (use an empty --data-dir to join)", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return pki.WriteFile(path, data, mode)
}

// isEtcdMember reports whether the data dir holds an etcd member already.
func isEtcdMember(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "etcd", "member"))
	return err == nil
}

// serverName is --server-name, else the name kept in the data dir, else a
// new hostname-<random> kept there.
func serverName(cfg Config) (string, error) {
	path := filepath.Join(cfg.DataDir, serverNameFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		kept := strings.TrimSpace(string(b))
		if cfg.ServerName != "" && cfg.ServerName != kept {
			return "", fmt.Errorf("--server-name %s: this data dir's server is named %s (remove it from the cluster and start with an empty data dir to rename it)", cfg.ServerName, kept)
		}
		return kept, nil
	}
	name := cfg.ServerName
	if name == "" {
		host, _ := os.Hostname()
		suffix := make([]byte, 4)
		if _, err := rand.Read(suffix); err != nil {
			return "", err
		}
		name = strings.ToLower(host) + "-" + hex.EncodeToString(suffix)
	}
	if strings.ContainsAny(name, "=, /") {
		return "", fmt.Errorf("--server-name %q: no '=', ',', '/' or spaces", name)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", err
	}
	return name, pki.WriteFile(path, []byte(name+"\n"), 0o600)
}

// peerURL is where the embedded etcd member serves its peers:
// --etcd-peer-listen, else the --listen host on the peer port.
func peerURL(cfg Config) (string, error) {
	listen := cfg.EtcdPeerListen
	if listen == "" {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		listen = net.JoinHostPort(host, fmt.Sprint(ports.EtcdPeer))
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--etcd-peer-listen %q: %w", listen, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return "", fmt.Errorf("--etcd-peer-listen %q: give the IP address the other servers reach this one at (etcd advertises it)", listen)
	}
	return (&url.URL{Scheme: "https", Host: net.JoinHostPort(ip.String(), port)}).String(), nil
}

// etcdMember is the embedded etcd's membership, with a peer certificate
// for the peer address signed by the cluster CA.
func (p *serverPKI) etcdMember(c *cluster) (*apiserver.EtcdMember, error) {
	u, _ := url.Parse(c.peerURL)
	kp, err := p.ca.IssueEtcdPeer([]net.IP{net.ParseIP(u.Hostname())}, nil, time.Now())
	if err != nil {
		return nil, err
	}
	certFile, keyFile, err := kp.Write(p.dir, "etcd-peer")
	if err != nil {
		return nil, err
	}
	return &apiserver.EtcdMember{
		Name: c.name, PeerURL: c.peerURL, CertFile: certFile, KeyFile: keyFile,
		CAFile: filepath.Join(p.dir, pki.CACertFile), AllowedCN: pki.EtcdPeerCN,
		InitialCluster: c.initialCluster, ClusterState: c.state,
	}, nil
}

// serverToken makes sure <data dir>/server-token holds a server token this
// server accepts: the one it joined with, else the one kept, else a new
// one that does not expire.
func (p *serverPKI) serverToken(dataDir string, c *cluster) error {
	path := filepath.Join(dataDir, ServerTokenFile)
	if c.joinToken != nil {
		if err := p.tokens.Import(*c.joinToken, pki.UsageServer, "server token (joined with)"); err != nil {
			return err
		}
		return pki.WriteFile(path, []byte(c.joinToken.String()+"\n"), 0o600)
	}
	if b, err := os.ReadFile(path); err == nil {
		if info, err := p.tokens.Validate(strings.TrimSpace(string(b))); err == nil && info.UsageOrDefault() == pki.UsageServer {
			return nil
		}
	}
	tok, err := p.tokens.CreateFor(pki.UsageServer, 0, "server token (<data dir>/"+ServerTokenFile+")")
	if err != nil {
		return err
	}
	return pki.WriteFile(path, []byte(tok.String()+"\n"), 0o600)
}

// askToJoin calls JoinServer until it answers, for up to two minutes: etcd
// takes no member while the last one added has not been connected for a
// few seconds ("unhealthy cluster"), as when servers join one after
// another.
func askToJoin(ctx context.Context, c skiffv1.ServerJoinClient, req *skiffv1.JoinServerRequest) (*skiffv1.JoinServerResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := c.JoinServer(cctx, req)
		ccancel()
		code := status.Code(err)
		if err == nil || (code != codes.Unavailable && code != codes.FailedPrecondition && code != codes.DeadlineExceeded) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(2 * time.Second):
		}
	}
}

// shareAgentToken makes the joined server's default agent token its own
// default too (kept in its token store and <data dir>/token), so an agent
// holding it joins through either. When it expires each server makes a
// new one of its own.
func shareAgentToken(dataDir string, ca *x509.Certificate, resp *skiffv1.JoinServerResponse) error {
	if resp.GetAgentToken() == "" {
		return nil
	}
	tok, err := pki.ParseToken(resp.GetAgentToken())
	if err != nil {
		return fmt.Errorf("the agent token the server sent: %w", err)
	}
	if resp.GetAgentTokenExpires() != nil {
		tok.Expires = resp.GetAgentTokenExpires().AsTime()
	}
	if err := pki.NewTokenStore(dataDir, ca).Import(tok, pki.UsageJoin, "default join token (shared by the server joined)"); err != nil {
		return err
	}
	return pki.WriteFile(filepath.Join(dataDir, "token"), []byte(tok.String()+"\n"), 0o600)
}
