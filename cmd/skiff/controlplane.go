package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/dnsserver"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/registry"
	"github.com/skiff-sh/skiff/scheduler"
)

// controlPlane is a running `skiff server`, as `skiff up` builds on it.
type controlPlane struct {
	addr string
	pki  *serverPKI // nil without TLS
	// etcdEndpoints and etcdTLS reach the etcd in use, for leader election.
	etcdEndpoints []string
	etcdTLS       *tls.Config
}

// client connects as one of the control plane's own components.
func (cp *controlPlane) client(id string) (*client.Client, error) {
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

// startControlPlane starts what `skiff server` runs — the API server (with
// the usage, join and token services, TLS, authorization and an audit
// log), the registry, the scheduler and the controllers (both
// leader-elected, so several servers can run) and, when asked, cluster DNS
// — in g. It returns once the API server is ready (nil if ctx ended first).
func startControlPlane(ctx context.Context, g *errgroup.Group, f *serverFlags, log *slog.Logger, reg *prometheus.Registry) (*controlPlane, error) {
	etcdTLS, err := f.etcd.tlsConfig()
	if err != nil {
		return nil, err
	}
	usage := apiserver.NewUsageService(time.Minute)
	cfg := apiserver.Config{
		DataDir: f.dataDir, Listen: f.listen, EtcdListen: f.etcdListen,
		EtcdEndpoints: f.etcdEndpoints, EtcdTLS: etcdTLS, ClusterCIDR: f.clusterCIDR,
		Logger: log.With("component", "apiserver"), Registerer: reg,
		RegisterServices: usage.Register,
	}
	// Owner only when we make it, as k3s keeps its server directory (the
	// CA key, etcd, the registry's blobs and the tokens live here). An
	// existing directory keeps its mode — it might be a shared one — and
	// its parts that matter are 0700 or 0600 of their own.
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(f.dataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the data dir is open to other users; chmod 700 it", "dir", f.dataDir, "mode", fi.Mode().Perm())
	}
	cp := &controlPlane{}
	var srv *apiserver.Server
	if !f.insecure {
		if cp.pki, err = setupServerPKI(f.dataDir, f.listen, f.tlsSANs); err != nil {
			return nil, err
		}
		if len(f.etcdEndpoints) == 0 {
			if cfg.EtcdServing, etcdTLS, err = cp.pki.embeddedEtcdTLS(); err != nil {
				return nil, err
			}
			cfg.EtcdTLS = etcdTLS
		}
		authz := apiserver.NewAuthorizer(func() *apiserver.Server { return srv })
		opts, auditLog, err := cp.pki.grpcOptions(f.dataDir, authz, log.With("component", "audit"))
		if err != nil {
			return nil, err
		}
		g.Go(func() error { <-ctx.Done(); return auditLog.Close() })
		join := apiserver.NewJoinService(cp.pki.ca, cp.pki.tokens, cp.pki.nodes, func(ctx context.Context) ([]*skiffv1.Node, error) {
			return srv.ListNodes(ctx)
		})
		cfg.GRPCOptions = opts
		cfg.RegisterServices = func(s *grpc.Server) { usage.Register(s); join.Register(s) }
		if cfg.AgentTLS, err = cp.pki.componentTLS(pki.Identity{Name: pki.APIServer}); err != nil {
			return nil, err
		}
	}
	if srv, err = apiserver.New(cfg); err != nil {
		return nil, err
	}
	g.Go(func() error { return srv.Run(ctx) })
	if f.registryAddr != "" {
		rcfg := registry.Config{DataDir: filepath.Join(f.dataDir, "registry"), Logger: log.With("component", "registry")}
		if cp.pki != nil {
			rcfg.Auth = registry.ClusterAuth{Tokens: cp.pki.tokens, Revoked: cp.pki.nodes.Revoked}
		}
		images, err := registry.New(rcfg)
		if err != nil {
			return nil, err
		}
		lis, err := net.Listen("tcp", f.registryAddr)
		if err != nil {
			return nil, fmt.Errorf("--registry-addr %s: %w", f.registryAddr, err)
		}
		if cp.pki != nil {
			// The registry serves with the API server's certificate, so
			// its address must be in it (--tls-san when it differs).
			lis = tls.NewListener(lis, pki.ServerTLS(cp.pki.ca.Cert, cp.pki.server, pki.ClientCertOptional))
		}
		g.Go(func() error { return images.Serve(ctx, lis) })
	}
	select {
	case <-srv.Ready():
	case <-ctx.Done():
		return nil, nil
	}
	cp.addr = srv.Addr()
	if f.clientConfig != "" {
		if cp.pki != nil {
			err = cp.pki.writeAdminConfig(f.clientConfig, cp.addr)
		} else {
			err = writeClientConfig(f.clientConfig, cp.addr)
		}
		if err != nil {
			return nil, err
		}
	}
	if cp.pki != nil {
		log.Info("join token for agents", "file", cp.pki.tokenFile, "expires", cp.pki.token.Expires)
		g.Go(func() error { cp.pki.keepDefaultToken(ctx, log); return nil })
		rc, err := cp.client(pki.Controller)
		if err != nil {
			return nil, err
		}
		g.Go(func() error {
			defer rc.Close()
			return cp.pki.revokeDeletedNodes(ctx, rc, log.With("component", "revocation"))
		})
	}
	cp.etcdEndpoints, cp.etcdTLS = srv.EtcdEndpoints(), etcdTLS
	if err := startControllers(ctx, g, cp, f, log, reg); err != nil {
		return nil, err
	}
	return cp, nil
}

// startControllers runs the scheduler, the controllers and, when asked,
// DNS, each with a client of its own identity.
func startControllers(ctx context.Context, g *errgroup.Group, cp *controlPlane, f *serverFlags, log *slog.Logger, reg *prometheus.Registry) error {
	sc, err := cp.client(pki.Scheduler)
	if err != nil {
		return err
	}
	sched, err := scheduler.New(scheduler.Config{Client: sc, Logger: log.With("component", "scheduler"), Metrics: reg})
	if err != nil {
		return err
	}
	g.Go(func() error {
		defer sc.Close()
		return leader.Run(ctx, leader.Config{
			Endpoints: cp.etcdEndpoints, TLS: cp.etcdTLS, Name: "scheduler", Identity: identity(),
			Logger: log.With("component", "scheduler"),
		}, sched.Run)
	})
	cc, err := cp.client(pki.Controller)
	if err != nil {
		return err
	}
	ccfg := f.controllers
	ccfg.Client, ccfg.Logger, ccfg.Metrics = cc, log.With("component", "controller"), reg
	controllers, err := controller.New(ccfg)
	if err != nil {
		return err
	}
	g.Go(func() error {
		defer cc.Close()
		return leader.Run(ctx, leader.Config{
			Endpoints: cp.etcdEndpoints, TLS: cp.etcdTLS, Name: "controller", Identity: identity(),
			Logger: log.With("component", "controller"),
		}, controllers.Run)
	})
	if f.dnsListen != "" {
		return startDNS(ctx, g, cp, f, f.dnsListen, log, reg, nil)
	}
	return nil
}

// startDNS serves cluster DNS at listen; it reads services and pods with
// the controllers' identity. ready, if set, is called once it answers.
func startDNS(ctx context.Context, g *errgroup.Group, cp *controlPlane, f *serverFlags, listen string, log *slog.Logger, reg *prometheus.Registry, ready func(addr string)) error {
	c, err := cp.client(pki.Controller)
	if err != nil {
		return err
	}
	dns, err := dnsserver.New(dnsserver.Config{
		Client: c, Listen: listen, Domain: f.clusterDomain, Upstreams: f.dnsUpstreams,
		Logger: log.With("component", "dns"), Metrics: reg,
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

// identity names this process among leader-election candidates.
func identity() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}
