package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/dashboard"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/registry"
)

// Config is what `skiff server` runs; its flags fill it.
type Config struct {
	// DataDir holds the embedded etcd, the registry's blobs, the PKI (CA,
	// certificates, join tokens, node records, Secret keys), the default
	// join token file and the audit log.
	DataDir string
	// Listen is the API server's gRPC address; EtcdListen the embedded
	// etcd's. EtcdEndpoints and EtcdTLS name an external etcd instead.
	Listen        string
	EtcdListen    string
	EtcdEndpoints []string
	EtcdTLS       *tls.Config
	ClusterCIDR   string
	ServiceCIDR   string
	// ClientConfig is where the command line's config (server address and,
	// with TLS, an admin certificate) is written; empty skips it.
	ClientConfig string
	// RegistryAddr is the embedded registry's address; empty disables it.
	RegistryAddr string
	// DNSListen, when set, also serves cluster DNS there, and the server
	// keeps the kube-system/kube-dns Service, its Endpoints listing every
	// live server's DNS address (see dnsEndpoints).
	DNSListen     string
	ClusterDomain string
	DNSUpstreams  []string
	// Controllers configures the controllers (Client, Logger and Metrics
	// are filled in here).
	Controllers controller.Config
	// Insecure turns TLS, authentication, authorization and audit off.
	Insecure bool
	// TLSSANs are more names or addresses for the server certificate.
	TLSSANs []string
	// RotateSecretKey adds a key that encrypts Secrets from now on.
	RotateSecretKey bool
	// DisableWatchCache gives every watch an etcd watch of its own
	// (apiserver.Config.DisableWatchCache).
	DisableWatchCache bool
	// MetricsAddr is where the server serves /metrics (the caller serves
	// it), recorded in its registration for `skiff cluster
	// prometheus-targets`; empty: none.
	MetricsAddr string
	// DashboardListen serves the web dashboard (HTTPS) there; empty
	// disables it.
	DashboardListen string
	// ClusterInit makes the embedded etcd the first member of a cluster of
	// servers; JoinServer (https://host:port of a running server) with
	// JoinToken (its server token) joins one. ServerName names this
	// server's member (default: kept in the data dir, hostname-<random>);
	// EtcdPeerListen is where the member serves its peers (default: the
	// --listen host, port 2380).
	ClusterInit    bool
	JoinServer     string
	JoinToken      string
	ServerName     string
	EtcdPeerListen string
	Logger         *slog.Logger
	Metrics        *prometheus.Registry
}

// ControlPlane is a running control plane, as `skiff up` builds on it.
type ControlPlane struct {
	cfg  Config
	addr string
	pki  *serverPKI // nil without TLS
	// etcdEndpoints and etcdTLS reach the etcd in use, for leader election.
	etcdEndpoints []string
	etcdTLS       *tls.Config
	dashboard     *dashboard.Server // nil when off
	// etcd is the server's own client of it (server list, joins).
	etcd *clientv3.Client
	// informers are shared by the components in this process (scheduler,
	// controllers, DNS, node revocation), so it holds each object once.
	informers *client.SharedInformers
	// reads is what informers reads in this process (nil: gRPC, the
	// server runs without a watch cache).
	reads *apiserver.InProcessReads
	// elected counts the leader-elected components still running; none
	// starts once stopping is set.
	electedMu sync.Mutex
	stopping  bool
	elected   sync.WaitGroup
}

// electedStopWait bounds how long a stopping server waits for its
// elected components to resign before it stops etcd anyway.
const electedStopWait = 10 * time.Second

// waitTimeout waits for wg, or d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// Start starts the API server (with the usage, join and token services,
// TLS, authorization and an audit log), the registry, the scheduler and
// the controllers (both leader-elected, so several servers can run) and,
// when asked, cluster DNS with the kube-dns Service — each in g. It
// returns once the API server is ready; nil, nil if ctx ended first.
func Start(ctx context.Context, g *errgroup.Group, cfg Config) (*ControlPlane, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	usage := newSharedUsage(apiserver.NewUsageService(time.Minute), log.With("component", "usage"))
	if err := makeDataDir(cfg.DataDir, log); err != nil {
		return nil, err
	}
	member, err := prepareCluster(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// A lone server (embedded etcd, no --cluster-init) has no other
	// server to share usage readings with: they stay in its memory
	// instead of costing an etcd write per report.
	usage.shared = member != nil || len(cfg.EtcdEndpoints) > 0
	joins := &serverJoinService{external: len(cfg.EtcdEndpoints) > 0}
	list := &serverListService{name: loneServerName(cfg), external: len(cfg.EtcdEndpoints) > 0}
	if member != nil {
		list.name = member.name
	}
	acfg := apiserver.Config{
		DataDir: cfg.DataDir, Listen: cfg.Listen, EtcdListen: cfg.EtcdListen,
		EtcdEndpoints: cfg.EtcdEndpoints, EtcdTLS: cfg.EtcdTLS, ClusterCIDR: cfg.ClusterCIDR, ServiceCIDR: cfg.ServiceCIDR,
		Logger: log.With("component", "apiserver"), Registerer: cfg.Metrics,
		RegisterServices:  func(g *grpc.Server) { usage.register(g); joins.register(g); list.register(g) },
		RotateSecretKey:   cfg.RotateSecretKey,
		DisableWatchCache: cfg.DisableWatchCache,
	}
	cp := &ControlPlane{cfg: cfg, etcdTLS: cfg.EtcdTLS}
	if !cfg.Insecure {
		if cp.pki, err = setupServerPKI(cfg.DataDir, cfg.Listen, cfg.TLSSANs); err != nil {
			return nil, err
		}
		if len(cfg.EtcdEndpoints) == 0 {
			if acfg.EtcdServing, cp.etcdTLS, err = cp.pki.embeddedEtcdTLS(); err != nil {
				return nil, err
			}
			acfg.EtcdTLS = cp.etcdTLS
		}
		if err := cp.pki.secureAPIServer(ctx, g, &acfg, log.With("component", "audit")); err != nil {
			return nil, err
		}
		joins.pki = cp.pki
		if member != nil {
			if member.peerURL != "" {
				if acfg.EtcdMember, err = cp.pki.etcdMember(member); err != nil {
					return nil, err
				}
			}
			if err := cp.pki.serverToken(cfg.DataDir, member); err != nil {
				return nil, err
			}
			log.Info("one of several servers", "name", member.name, "etcdPeer", member.peerURL, "serverToken", filepath.Join(cfg.DataDir, ServerTokenFile))
		}
	}
	srv, err := apiserver.New(acfg)
	if err != nil {
		return nil, err
	}
	// The API server and its etcd stop after the elected components: they
	// resign their leases through etcd on the way out, so a standby takes
	// over at once instead of after the lease's TTL.
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	g.Go(func() error { return srv.Run(srvCtx) })
	g.Go(func() error {
		<-ctx.Done()
		cp.electedMu.Lock()
		cp.stopping = true
		cp.electedMu.Unlock()
		waitTimeout(&cp.elected, electedStopWait)
		stopSrv()
		return nil
	})
	if err := cp.startRegistry(ctx, g); err != nil {
		return nil, err
	}
	select {
	case <-srv.Ready():
	case <-ctx.Done():
		return nil, nil
	}
	cp.addr = srv.Addr()
	if err := cp.startSharedInformers(ctx, g, srv); err != nil {
		return nil, err
	}
	if cfg.ClientConfig != "" {
		if cp.pki != nil {
			// A joined server's command line knows every server then.
			err = cp.pki.writeAdminConfig(cfg.ClientConfig, strings.Join(member.configServers(cp.advertisedAddr(member)), ","))
		} else {
			err = writeClientConfig(cfg.ClientConfig, cp.addr)
		}
		if err != nil {
			return nil, err
		}
	}
	if cp.pki != nil {
		if err := cp.startNodeBookkeeping(ctx, g); err != nil {
			return nil, err
		}
	}
	cp.etcdEndpoints = srv.EtcdEndpoints()
	// DNS starts before the server registers: the registration names its
	// DNS address once it answers.
	var dnsBound chan string
	if cfg.DNSListen != "" {
		dnsBound = make(chan string, 1)
		if err := cp.StartDNS(ctx, g, cfg.DNSListen, func(addr string) { dnsBound <- addr }); err != nil {
			return nil, err
		}
	}
	if err := cp.startServerList(ctx, g, joins, list, usage, cp.advertisedAddr(member), dnsBound); err != nil {
		return nil, err
	}
	if err := cp.startControllers(ctx, g); err != nil {
		return nil, err
	}
	if cfg.DashboardListen != "" {
		if err := cp.startDashboard(ctx, g); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// makeDataDir makes the data directory owner-only when it makes it, as
// k3s keeps its server directory (the CA key, etcd, the registry's blobs
// and the tokens live here). An existing directory keeps its mode — it
// might be a shared one — and its parts that matter are 0700 or 0600 of
// their own.
func makeDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the data dir is open to other users; chmod 700 it", "dir", dir, "mode", fi.Mode().Perm())
	}
	return nil
}

// secureAPIServer gives the API server its TLS, the interceptors that
// authenticate, audit and authorize every call (the authorizer reads
// stored objects, so it is made from the server once it exists), the join
// service and its client certificate towards agents. The audit log closes
// when ctx ends.
func (p *serverPKI) secureAPIServer(ctx context.Context, g *errgroup.Group, acfg *apiserver.Config, auditErrors *slog.Logger) error {
	auditLog, err := openAuditLog(acfg.DataDir)
	if err != nil {
		return err
	}
	g.Go(func() error { <-ctx.Done(); return auditLog.Close() })
	acfg.GRPCOptions = []grpc.ServerOption{p.serverCreds()}
	acfg.ServerOptions = func(s *apiserver.Server) []grpc.ServerOption {
		return p.guardOptions(auditLog, apiserver.NewAuthorizer(s), auditErrors)
	}
	acfg.Join = &apiserver.JoinConfig{CA: p.ca, Tokens: p.tokens, Nodes: p.nodes}
	acfg.AgentTLS, err = p.componentTLS(pki.Identity{Name: pki.APIServer})
	return err
}

// startSharedInformers makes the informers the components share; each
// runs while a component holds it. They only read: with the watch cache,
// straight from the API server in this process (srv.InProcessReads), so
// they hold the cache's objects instead of a second copy of each; without
// it, through a client of the controllers' identity. The in-process reads
// skip authentication and authorization, which the controllers' identity
// passes for every read anyway.
func (cp *ControlPlane) startSharedInformers(ctx context.Context, g *errgroup.Group, srv *apiserver.Server) error {
	c, err := cp.Client(pki.Controller)
	if err != nil {
		return err
	}
	log := cp.cfg.Logger.With("component", "informers")
	if reads, ok := srv.InProcessReads(); ok {
		cp.reads = reads
		cp.informers = client.NewSharedInformersFrom(c, reads, reads.Serves, log)
	} else {
		cp.informers = client.NewSharedInformers(c, log)
	}
	// A component that loses its lease and wins it back (under heavy load
	// that happens) finds its objects held instead of listing them again.
	cp.informers.KeepRunning()
	g.Go(func() error {
		<-ctx.Done()
		// The elected components let go of their informers on the way
		// out; then the kept ones stop.
		waitTimeout(&cp.elected, electedStopWait)
		cp.informers.Stop()
		return c.Close()
	})
	return nil
}

// startNodeBookkeeping keeps the default join token fresh and revokes the
// certificates of deleted Nodes, both until ctx ends.
func (cp *ControlPlane) startNodeBookkeeping(ctx context.Context, g *errgroup.Group) error {
	log := cp.cfg.Logger
	log.Info("join token for agents", "file", cp.pki.tokenFile, "expires", cp.pki.token.Expires)
	g.Go(func() error { cp.pki.keepDefaultToken(ctx, log); return nil })
	g.Go(func() error {
		return cp.pki.revokeDeletedNodes(ctx, cp.informers, log.With("component", "revocation"))
	})
	return nil
}

// Addr is the API server's address.
func (cp *ControlPlane) Addr() string { return cp.addr }

// EtcdEndpoints are the client URLs of the etcd in use.
func (cp *ControlPlane) EtcdEndpoints() []string { return cp.etcdEndpoints }

// TLS reports whether the control plane runs with TLS (not Insecure).
func (cp *ControlPlane) TLS() bool { return cp.pki != nil }

// Client connects as one of the control plane's own components (an
// identity of pki: pki.Scheduler, pki.Controller, …), its certificate
// re-issued on use.
func (cp *ControlPlane) Client(id string) (*client.Client, error) {
	opts := client.Options{}
	if cp.pki != nil {
		t, err := cp.pki.componentTLS(pki.Identity{Name: id})
		if err != nil {
			return nil, err
		}
		opts.TLS = t
	}
	return client.New(cp.addr, opts)
}

// LocalNodeTLS is `skiff up`'s agent's TLS — client, serving and image
// pulls — signed directly by the cluster CA (no join) and re-issued on
// use. The node is recorded as the server's own, so no join can take its
// name and deleting the Node revokes its certificates. All nil without
// TLS.
func (cp *ControlPlane) LocalNodeTLS(node string, addrs []string) (clientTLS, serving *tls.Config, images http.RoundTripper, err error) {
	if cp.pki == nil {
		return nil, nil, nil, nil
	}
	return cp.pki.localNodeTLS(node, addrs)
}

// AdminRegistryTransport pushes to the cluster registry as an admin (the
// demo image `skiff up` puts there); nil without TLS.
func (cp *ControlPlane) AdminRegistryTransport() (http.RoundTripper, error) {
	if cp.pki == nil {
		return nil, nil
	}
	return cp.pki.adminRegistryTransport()
}

func (cp *ControlPlane) startRegistry(ctx context.Context, g *errgroup.Group) error {
	if cp.cfg.RegistryAddr == "" {
		return nil
	}
	rcfg := registry.Config{DataDir: filepath.Join(cp.cfg.DataDir, "registry"), Logger: cp.cfg.Logger.With("component", "registry")}
	if cp.pki != nil {
		rcfg.Auth = registry.ClusterAuth{Tokens: cp.pki.tokens, Revoked: cp.pki.nodes.Revoked}
	}
	images, err := registry.New(rcfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cp.cfg.RegistryAddr)
	if err != nil {
		return fmt.Errorf("--registry-addr %s: %w", cp.cfg.RegistryAddr, err)
	}
	if cp.pki != nil {
		// The registry serves with the API server's certificate, so its
		// address must be in it (--tls-san when it differs).
		lis = tls.NewListener(lis, cp.pki.servingTLS())
	}
	g.Go(func() error { return images.Serve(ctx, lis) })
	return nil
}

// writeClientConfig records where an insecure server is, for the command
// line. A wildcard listen address is written as loopback.
func writeClientConfig(path, addr string) error {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if strings.Contains(addr, "[") {
			host = "::1"
		}
	}
	return client.SaveServerConfig(path, &client.Config{Server: net.JoinHostPort(host, port)})
}
