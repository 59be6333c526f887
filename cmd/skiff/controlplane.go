package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/dnsserver"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/registry"
	"github.com/skiff-sh/skiff/scheduler"
)

// startControlPlane starts what `skiff server` runs — the API server (with
// the usage service), the registry, the scheduler and the controllers (both
// leader-elected, so several servers can run) and, when asked, cluster DNS
// — in g, and returns a client of the API server once it is ready (nil if
// ctx ended first).
func startControlPlane(ctx context.Context, g *errgroup.Group, f *serverFlags, log *slog.Logger, reg *prometheus.Registry) (*client.Client, error) {
	etcdTLS, err := f.etcdTLS()
	if err != nil {
		return nil, err
	}
	usage := apiserver.NewUsageService(time.Minute)
	srv, err := apiserver.New(apiserver.Config{
		DataDir: f.dataDir, Listen: f.listen, EtcdListen: f.etcdListen,
		EtcdEndpoints: f.etcdEndpoints, EtcdTLS: etcdTLS, ClusterCIDR: f.clusterCIDR,
		Logger: log.With("component", "apiserver"), Registerer: reg,
		RegisterServices: usage.Register,
	})
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return srv.Run(ctx) })
	if f.registryAddr != "" {
		images, err := registry.New(registry.Config{DataDir: filepath.Join(f.dataDir, "registry"), Logger: log.With("component", "registry")})
		if err != nil {
			return nil, err
		}
		lis, err := net.Listen("tcp", f.registryAddr)
		if err != nil {
			return nil, fmt.Errorf("--registry-addr %s: %w", f.registryAddr, err)
		}
		g.Go(func() error { return images.Serve(ctx, lis) })
	}
	select {
	case <-srv.Ready():
	case <-ctx.Done():
		return nil, nil
	}
	if err := writeClientConfig(f.clientConfig, srv.Addr()); err != nil {
		return nil, err
	}
	c, err := client.New(srv.Addr(), client.Options{})
	if err != nil {
		return nil, err
	}
	sched, err := scheduler.New(scheduler.Config{Client: c, Logger: log.With("component", "scheduler"), Metrics: reg})
	if err != nil {
		return nil, err
	}
	g.Go(func() error {
		return leader.Run(ctx, leader.Config{
			Endpoints: srv.EtcdEndpoints(), TLS: etcdTLS, Name: "scheduler", Identity: identity(),
			Logger: log.With("component", "scheduler"),
		}, sched.Run)
	})
	ccfg := f.controllers
	ccfg.Client, ccfg.Logger, ccfg.Metrics = c, log.With("component", "controller"), reg
	controllers, err := controller.New(ccfg)
	if err != nil {
		return nil, err
	}
	g.Go(func() error {
		return leader.Run(ctx, leader.Config{
			Endpoints: srv.EtcdEndpoints(), TLS: etcdTLS, Name: "controller", Identity: identity(),
			Logger: log.With("component", "controller"),
		}, controllers.Run)
	})
	if f.dnsListen != "" {
		dns, err := dnsserver.New(dnsserver.Config{
			Client: c, Listen: f.dnsListen, Domain: f.clusterDomain, Upstreams: f.dnsUpstreams,
			Logger: log.With("component", "dns"), Metrics: reg,
		})
		if err != nil {
			return nil, err
		}
		g.Go(func() error { return dns.Run(ctx) })
	}
	return c, nil
}

// identity names this process among leader-election candidates.
func identity() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}
