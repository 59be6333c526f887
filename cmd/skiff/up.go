package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/dnsserver"
	"github.com/skiff-sh/skiff/nodeagent"
	"github.com/skiff-sh/skiff/nodeagent/image/build"
	"github.com/skiff-sh/skiff/ports"
	"github.com/skiff-sh/skiff/registry"
	"github.com/skiff-sh/skiff/scheduler"
)

// DemoImage is the image `skiff up` puts in its registry so a new user can
// run a pod without the internet: busybox whose httpd serves :8080.
const DemoImage = "demo:latest"

func upCommand() *cobra.Command {
	sf := &serverFlags{}
	af := &agentFlags{}
	var registryAddr, dnsDomain string
	var upstreams []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a whole single-node cluster in one process",
		Long: `Run a single-node cluster: the API server (embedded etcd), the registry, the
scheduler, cluster DNS and a node agent on this machine. It puts a small demo
image (busybox serving HTTP on :8080) into the registry as
127.0.0.1:5000/` + DemoImage + `. Ctrl-C stops it; containers and data stay, and
the next "skiff up" brings the same cluster back. Needs root.`,
		Example: `  sudo skiff up
  skiff apply -f deploy/examples/hello.yaml
  skiff get pods -o wide
  curl http://POD_IP:8080/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			af.clusterCIDR = sf.clusterCIDR
			if !cmd.Flags().Changed("agent-data-dir") {
				af.dataDir = filepath.Join(sf.dataDir, "agent")
			}
			return runUp(ctx, sf, af, registryAddr, dnsDomain, upstreams, verbosity(cmd))
		},
	}
	sf.register(cmd)
	af.register(cmd, "agent-")
	cmd.Flags().StringVar(&registryAddr, "registry-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Registry)), "the embedded registry's address")
	cmd.Flags().StringVar(&dnsDomain, "cluster-domain", "cluster.local", "the cluster DNS domain")
	cmd.Flags().StringSliceVar(&upstreams, "dns-upstream", nil, "where cluster DNS forwards other names (default: /etc/resolv.conf's nameservers)")
	return cmd
}

func runUp(ctx context.Context, sf *serverFlags, af *agentFlags, registryAddr, domain string, upstreams []string, verbose int) error {
	log, err := newLogger(os.Stderr, sf.logFormat, verbose)
	if err != nil {
		return err
	}
	reg := newRegistry()
	srv, err := apiserver.New(apiserver.Config{
		DataDir: sf.dataDir, Listen: sf.listen, EtcdListen: sf.etcdListen,
		EtcdEndpoints: sf.etcdEndpoints, ClusterCIDR: sf.clusterCIDR,
		Logger: log.With("component", "apiserver"), Registerer: reg,
	})
	if err != nil {
		return err
	}
	images, err := registry.New(registry.Config{DataDir: filepath.Join(sf.dataDir, "registry"), Logger: log.With("component", "registry")})
	if err != nil {
		return err
	}
	registryLis, err := net.Listen("tcp", registryAddr)
	if err != nil {
		return fmt.Errorf("--registry-addr %s: %w", registryAddr, err)
	}
	metrics, err := serveMetrics(ctx, sf.metricsAddr, reg, log)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return images.Serve(ctx, registryLis) })
	g.Go(metrics)
	g.Go(func() error {
		select {
		case <-srv.Ready():
		case <-ctx.Done():
			return nil
		}
		if err := writeClientConfig(sf.clientConfig, srv.Addr()); err != nil {
			return err
		}
		c, err := client.New(srv.Addr(), client.Options{})
		if err != nil {
			return err
		}
		defer c.Close()
		return runNodeParts(ctx, c, af, reg, log, registryLis.Addr().String(), domain, upstreams)
	})
	return g.Wait()
}

// runNodeParts runs what needs the API server: the scheduler, the agent,
// cluster DNS on the node bridge once the agent made it, and the demo image.
func runNodeParts(ctx context.Context, c *client.Client, af *agentFlags, reg *prometheus.Registry, log *slog.Logger, registryAddr, domain string, upstreams []string) error {
	sched, err := scheduler.New(scheduler.Config{Client: c, Logger: log.With("component", "scheduler"), Metrics: reg})
	if err != nil {
		return err
	}
	cfg := af.config(c)
	cfg.ClusterDomain = domain
	cfg.Logger, cfg.Registerer = log.With("component", "agent"), reg
	agent, err := nodeagent.New(cfg)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sched.Run(ctx) })
	g.Go(func() error { return agent.Run(ctx) })
	g.Go(func() error {
		if err := pushDemoImage(ctx, registryAddr); err != nil {
			log.Warn("demo image not available", "err", err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-agent.Ready():
		case <-ctx.Done():
			return nil
		}
		dns, err := dnsserver.New(dnsserver.Config{
			Client: c, Listen: net.JoinHostPort(agent.Gateway().String(), strconv.Itoa(ports.DNS)),
			Domain: domain, Upstreams: upstreams,
			Logger: log.With("component", "dns"), Metrics: reg,
		})
		if err != nil {
			return err
		}
		g.Go(func() error {
			select {
			case <-dns.Ready():
				log.Info("cluster ready", "dns", dns.Addr(), "demo_image", registryAddr+"/"+DemoImage)
			case <-ctx.Done():
			}
			return nil
		})
		return dns.Run(ctx)
	})
	return g.Wait()
}

// pushDemoImage builds the busybox demo image from Debian's busybox-static
// and pushes it, unless the registry has it already.
func pushDemoImage(ctx context.Context, registryAddr string) error {
	ref := registryAddr + "/" + DemoImage
	remote := build.Remote{}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if _, err := remote.Pull(ctx, ref); err == nil {
			return nil
		}
		img, err := build.Busybox(build.BusyboxPath)
		if err != nil {
			return fmt.Errorf("%w (install Debian's busybox-static)", err)
		}
		if _, err := remote.Push(ctx, img, ref, nil); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond) // the registry is still starting
	}
}
