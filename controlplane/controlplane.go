package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/audit"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/dnsserver"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/registry"
	"github.com/skiff-sh/skiff/scheduler"
)

// Config is what `skiff server` runs; its flags fill it.
type Config struct {
	// DataDir holds the embedded etcd, the registry, the PKI (CA, server
	// certificate, join tokens), the default join token file and the
	// audit log.
	DataDir string
	// Listen is the API server's gRPC address; EtcdListen the embedded
	// etcd's; EtcdEndpoints and EtcdTLS an external etcd instead.
	Listen        string
	EtcdListen    string
	EtcdEndpoints []string
	EtcdTLS       *tls.Config
	ClusterCIDR   string
	// ClientConfig is where the command line's config (server address and,
	// with TLS, an admin certificate) is written; empty skips it.
	ClientConfig string
	// RegistryAddr is the embedded registry's address; empty disables it.
	RegistryAddr string
	// DNSListen, when set, also serves cluster DNS there.
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
	Logger  *slog.Logger
	Metrics *prometheus.Registry
}

// ControlPlane is a running control plane, as `skiff up` builds on it.
type ControlPlane struct {
	cfg  Config
	addr string
	pki  *serverPKI // nil without TLS
}

// Start starts the API server (with the usage, join and token services,
// TLS, authorization and an audit log), the registry, the scheduler and
// the controllers (both leader-elected, so several servers can run) and,
// when asked, cluster DNS — each in g. It returns once the API server is
// ready; nil, nil if ctx ended first.
func Start(ctx context.Context, g *errgroup.Group, cfg Config) (*ControlPlane, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	usage := apiserver.NewUsageService(time.Minute)
	acfg := apiserver.Config{
		DataDir: cfg.DataDir, Listen: cfg.Listen, EtcdListen: cfg.EtcdListen,
		EtcdEndpoints: cfg.EtcdEndpoints, EtcdTLS: cfg.EtcdTLS, ClusterCIDR: cfg.ClusterCIDR,
		Logger: log.With("component", "apiserver"), Registerer: cfg.Metrics,
		RegisterServices: usage.Register,
	}
	cp := &ControlPlane{cfg: cfg}
	if !cfg.Insecure {
		var err error
		if cp.pki, err = setupServerPKI(cfg.DataDir, cfg.Listen, cfg.TLSSANs); err != nil {
			return nil, err
		}
		auditLog, err := audit.Open(audit.Options{Path: filepath.Join(cfg.DataDir, "audit", "audit.log")})
		if err != nil {
			return nil, err
		}
		g.Go(func() error { <-ctx.Done(); return auditLog.Close() })
		// The authorizer reads stored pods (node restriction): its
		// interceptors are made from the server they guard.
		acfg.ServerOptions = func(s *apiserver.Server) []grpc.ServerOption {
			return cp.pki.grpcOptions(auditLog, s.GetPod, log.With("component", "audit"))
		}
		join := apiserver.NewJoinService(cp.pki.ca, cp.pki.tokens)
		acfg.RegisterServices = func(s *grpc.Server) { usage.Register(s); join.Register(s) }
		if acfg.AgentTLS, err = cp.pki.clientTLS(pki.Identity{Name: pki.APIServer}); err != nil {
			return nil, err
		}
	}
	srv, err := apiserver.New(acfg)
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return srv.Run(ctx) })
	if err := cp.startRegistry(ctx, g); err != nil {
		return nil, err
	}
	select {
	case <-srv.Ready():
	case <-ctx.Done():
		return nil, nil
	}
	cp.addr = srv.Addr()
	if cfg.ClientConfig != "" {
		if cp.pki != nil {
			err = cp.pki.writeAdminConfig(cfg.ClientConfig, cp.addr)
		} else {
			err = writeClientConfig(cfg.ClientConfig, cp.addr)
		}
		if err != nil {
			return nil, err
		}
	}
	if cp.pki != nil {
		log.Info("join token for agents", "file", filepath.Join(cfg.DataDir, "token"))
	}
	if err := cp.startControllers(ctx, g, srv.EtcdEndpoints()); err != nil {
		return nil, err
	}
	return cp, nil
}

// Addr is the API server's address.
func (cp *ControlPlane) Addr() string { return cp.addr }

// Client connects as one of the control plane's own components (an
// identity of pki: pki.Scheduler, pki.Controller, …).
func (cp *ControlPlane) Client(id string) (*client.Client, error) {
	opts := client.Options{}
	if cp.pki != nil {
		t, err := cp.pki.clientTLS(pki.Identity{Name: id})
		if err != nil {
			return nil, err
		}
		opts.TLS = t
	}
	return client.New(cp.addr, opts)
}

// TLS reports whether the control plane runs with TLS (not --insecure).
func (cp *ControlPlane) TLS() bool { return cp.pki != nil }

// CA is the cluster CA's certificate; nil without TLS.
func (cp *ControlPlane) CA() *x509.Certificate {
	if cp.pki == nil {
		return nil
	}
	return cp.pki.ca.Cert
}

func (cp *ControlPlane) startRegistry(ctx context.Context, g *errgroup.Group) error {
	if cp.cfg.RegistryAddr == "" {
		return nil
	}
	images, err := registry.New(registry.Config{DataDir: filepath.Join(cp.cfg.DataDir, "registry"), Logger: cp.cfg.Logger.With("component", "registry")})
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
		lis = tls.NewListener(lis, pki.ServerTLS(cp.pki.ca.Cert, cp.pki.server, pki.ClientCertOptional))
	}
	g.Go(func() error { return images.Serve(ctx, lis) })
	return nil
}

// startControllers runs the scheduler, the controllers and, when asked,
// DNS, each with a client of its own identity.
func (cp *ControlPlane) startControllers(ctx context.Context, g *errgroup.Group, etcd []string) error {
	log := cp.cfg.Logger
	err := cp.runElected(ctx, g, etcd, "scheduler", pki.Scheduler, func(c *client.Client) (func(context.Context) error, error) {
		s, err := scheduler.New(scheduler.Config{Client: c, Logger: log.With("component", "scheduler"), Metrics: cp.cfg.Metrics})
		if err != nil {
			return nil, err
		}
		return s.Run, nil
	})
	if err != nil {
		return err
	}
	err = cp.runElected(ctx, g, etcd, "controller", pki.Controller, func(c *client.Client) (func(context.Context) error, error) {
		ccfg := cp.cfg.Controllers
		ccfg.Client, ccfg.Logger, ccfg.Metrics = c, log.With("component", "controller"), cp.cfg.Metrics
		m, err := controller.New(ccfg)
		if err != nil {
			return nil, err
		}
		return m.Run, nil
	})
	if err != nil {
		return err
	}
	if cp.cfg.DNSListen != "" {
		return cp.StartDNS(ctx, g, cp.cfg.DNSListen, nil)
	}
	return nil
}

// runElected makes a component with a client of identity id and runs it
// in g while this process leads the election name (so several servers can
// run, one of each leading).
func (cp *ControlPlane) runElected(ctx context.Context, g *errgroup.Group, etcd []string, name, id string, make func(*client.Client) (func(context.Context) error, error)) error {
	c, err := cp.Client(id)
	if err != nil {
		return err
	}
	run, err := make(c)
	if err != nil {
		c.Close()
		return err
	}
	g.Go(func() error {
		defer c.Close()
		return leader.Run(ctx, leader.Config{
			Endpoints: etcd, TLS: cp.cfg.EtcdTLS, Name: name, Identity: leader.HostIdentity(),
			Logger: cp.cfg.Logger.With("component", name),
		}, run)
	})
	return nil
}

// StartDNS serves cluster DNS at listen, in g; it reads services and pods
// with the controllers' identity. ready, if set, is called once it
// answers.
func (cp *ControlPlane) StartDNS(ctx context.Context, g *errgroup.Group, listen string, ready func(addr string)) error {
	c, err := cp.Client(pki.Controller)
	if err != nil {
		return err
	}
	dns, err := dnsserver.New(dnsserver.Config{
		Client: c, Listen: listen, Domain: cp.cfg.ClusterDomain, Upstreams: cp.cfg.DNSUpstreams,
		Logger: cp.cfg.Logger.With("component", "dns"), Metrics: cp.cfg.Metrics,
	})
	if err != nil {
		c.Close()
		return err
	}
	g.Go(func() error { defer c.Close(); return dns.Run(ctx) })
	if ready != nil {
		g.Go(func() error {
			select {
			case <-dns.Ready():
				ready(dns.Addr())
			case <-ctx.Done():
			}
			return nil
		})
	}
	return nil
}

// EtcdTLS is the client TLS configuration for an external etcd from PEM
// files (the --etcd-ca, --etcd-cert and --etcd-key flags); nil when none
// is given.
func EtcdTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-ca %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("--etcd-cert and --etcd-key go together")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cert/--etcd-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
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
	return client.SaveConfig(path, &client.Config{Server: net.JoinHostPort(host, port)})
}
