package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controlplane"
	"github.com/skiff-sh/skiff/image/build"
	"github.com/skiff-sh/skiff/nodeagent"
	"github.com/skiff-sh/skiff/ports"
)

// DemoImage is the image `skiff up` puts in its registry so a new user can
// run a pod without the internet: busybox whose httpd serves :8080.
const DemoImage = "demo:latest"

func upCommand() *cobra.Command {
	sf := &serverFlags{}
	af := &agentFlags{}
	var mirrors []string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a whole single-node cluster in one process",
		Long: `Run a single-node cluster: the API server (embedded etcd), the registry, the
scheduler, cluster DNS and a node agent on this machine. It puts a small demo
image (busybox serving HTTP on :8080) into the registry as
127.0.0.1:5000/` + DemoImage + `. Ctrl-C stops it; containers and data stay, and
the next "skiff up" brings the same cluster back. Needs root.

--mirror docker.io makes the node look for Docker Hub images in the cluster
registry first, then on Docker Hub: after "skiff image build DIR --name
busybox:1.28" a pod that says image: busybox:1.28 runs it, offline.
--agent-registries gives a registries.yaml (k3s's shape) for anything more.`,
		Example: `  sudo skiff up
  skiff apply -f deploy/examples/hello.yaml
  skiff get pods -o wide
  curl http://POD_IP:8080/
  sudo skiff up --mirror docker.io`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			af.clusterCIDR = sf.clusterCIDR
			af.serviceCIDR = sf.serviceCIDR
			if !cmd.Flags().Changed("agent-data-dir") {
				af.dataDir = filepath.Join(sf.dataDir, "agent")
			}
			af.mirrors = mirrors
			return runUp(ctx, sf, af, verbosity(cmd))
		},
	}
	sf.register(cmd)
	af.register(cmd, "agent-")
	cmd.Flags().StringSliceVar(&mirrors, "mirror", nil, "registry hosts (docker.io, quay.io, …) whose images are looked for in the cluster registry first")
	return cmd
}

func runUp(ctx context.Context, sf *serverFlags, af *agentFlags, verbose int) error {
	log, err := newLogger(os.Stderr, sf.logFormat, verbose)
	if err != nil {
		return err
	}
	reg := newRegistry()
	cfg, err := sf.config(log, reg)
	if err != nil {
		return err
	}
	metrics, err := serveMetrics(sf.metricsAddr, reg, log)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics(ctx) })
	g.Go(func() error {
		cp, err := controlplane.Start(ctx, g, cfg)
		if err != nil || cp == nil {
			return err
		}
		return runNode(ctx, g, cp, sf, af, reg, log)
	})
	return g.Wait()
}

// runNode runs this machine's agent — its certificates signed directly by
// the server's CA — then cluster DNS on the node bridge it makes (where
// pods' resolv.conf points), and the demo image.
func runNode(ctx context.Context, g *errgroup.Group, cp *controlplane.ControlPlane, sf *serverFlags, af *agentFlags, reg *prometheus.Registry, log *slog.Logger) error {
	cfg := af.config(nil)
	if cfg.NodeName == "" {
		cfg.NodeName, _ = os.Hostname()
	}
	var opts client.Options
	var err error
	if opts.TLS, cfg.ServerTLS, cfg.ImageTransport, err = cp.LocalNodeTLS(cfg.NodeName, agentAddresses(af)); err != nil {
		return err
	}
	c, err := client.New(cp.Addr(), opts)
	if err != nil {
		return err
	}
	cfg.Client = c
	if cfg.Registries, err = af.registries(); err != nil {
		c.Close()
		return err
	}
	if len(af.mirrors) > 0 {
		if sf.registryAddr == "" {
			c.Close()
			return fmt.Errorf("--mirror needs the cluster registry; --registry-addr is empty")
		}
		scheme := "http://"
		if cp.TLS() {
			scheme = "https://"
		}
		cfg.Registries = cfg.Registries.WithMirrors(af.mirrors, scheme+sf.registryAddr)
	}
	cfg.ClusterDomain = sf.clusterDomain
	cfg.Logger, cfg.Registerer = log.With("component", "agent"), reg
	agent, err := nodeagent.New(cfg)
	if err != nil {
		c.Close()
		return err
	}
	g.Go(func() error { defer c.Close(); return agent.Run(ctx) })
	if sf.registryAddr != "" {
		push, err := cp.AdminRegistryTransport()
		if err != nil {
			return err
		}
		g.Go(func() error {
			if err := pushDemoImage(ctx, sf.registryAddr, push); err != nil {
				log.Warn("demo image not available", "err", err)
			}
			return nil
		})
	}
	select {
	case <-agent.Ready():
	case <-ctx.Done():
		return nil
	}
	listen := net.JoinHostPort(agent.Gateway().String(), strconv.Itoa(ports.DNS))
	return cp.StartDNS(ctx, g, listen, func(addr string) {
		log.Info("cluster ready", "dns", addr, "demo_image", sf.registryAddr+"/"+DemoImage)
	})
}

// agentAddresses are the names the agent's serving certificate carries.
func agentAddresses(af *agentFlags) []string {
	out := []string{"127.0.0.1", "localhost"}
	if af.advertiseAddress != "" {
		out = append(out, af.advertiseAddress)
	}
	if host, _, err := net.SplitHostPort(af.listen); err == nil && host != "" {
		out = append(out, host)
	}
	return out
}

// pushDemoImage builds the busybox demo image from Debian's busybox-static
// and pushes it (transport: an admin's), unless the registry has it
// already.
func pushDemoImage(ctx context.Context, registryAddr string, transport http.RoundTripper) error {
	ref := registryAddr + "/" + DemoImage
	remote := build.Remote{Transport: transport}
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
