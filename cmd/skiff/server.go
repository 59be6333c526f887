package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/controlplane"
	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/ports"
)

// serverFlags are the flags of `skiff server` (and the server half of
// `skiff up`).
type serverFlags struct {
	dataDir       string
	listen        string
	metricsAddr   string
	etcdEndpoints []string
	etcdListen    string
	etcd          etcdClientFlags
	clusterCIDR   string
	serviceCIDR   string
	clientConfig  string
	logFormat     string
	registryAddr  string
	dnsListen     string
	clusterDomain string
	dnsUpstreams  []string
	controllers   controller.Config
	insecure      bool
	tlsSANs       []string
	// rotateSecretKey adds a key that encrypts Secrets from now on.
	rotateSecretKey bool
	dashboardAddr   string
	watchCache      bool
	// cluster: one server of several (skiff server only).
	cluster clusterFlags
}

func (f *serverFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "/var/lib/skiff", "where the embedded etcd and registry keep their data")
	fl.StringVar(&f.listen, "listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.API)), "gRPC API address; use 0.0.0.0:6443 for agents on other machines")
	fl.StringVar(&f.metricsAddr, "metrics-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.ServerMetrics)), "Prometheus /metrics address; empty disables it")
	fl.StringSliceVar(&f.etcdEndpoints, "etcd-endpoints", nil, "external etcd cluster (https://host:2379,…) instead of the embedded etcd")
	fl.BoolVar(&f.rotateSecretKey, "rotate-secret-key", false, "add a new key to <data-dir>/pki/secret-encryption-keys and re-encrypt every Secret in etcd under it at start (older keys stay, to read what is not yet re-encrypted)")
	fl.StringVar(&f.etcdListen, "etcd-listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Etcd)), "embedded etcd client address (loopback only; TLS with the server's etcd-client certificate unless --insecure)")
	f.etcd.register(cmd, true)
	fl.StringVar(&f.clusterCIDR, "cluster-cidr", defaults.ClusterCIDR, "pod addresses; each node gets a /24 of it")
	fl.StringVar(&f.serviceCIDR, "service-cidr", defaults.ServiceCIDR, "the services' ClusterIPs (agents must be given the same)")
	fl.StringVar(&f.clientConfig, "write-config", client.OSEnvironment().ConfigPath(""), "where to write the command line's config (server address); empty skips it")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.StringVar(&f.registryAddr, "registry-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Registry)), "the embedded OCI registry's address; empty disables it")
	fl.StringVar(&f.clusterDomain, "cluster-domain", defaults.ClusterDomain, "the cluster DNS domain")
	fl.StringSliceVar(&f.dnsUpstreams, "dns-upstream", nil, "where cluster DNS forwards other names (default: /etc/resolv.conf's nameservers)")
	registerControllerFlags(cmd, &f.controllers)
	fl.BoolVar(&f.insecure, "insecure", false, "plain text, no authentication: anyone who reaches the API, the registry or the embedded etcd (plain HTTP on loopback) may do anything (tests only)")
	fl.StringVar(&f.dashboardAddr, "dashboard-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Dashboard)), "the web dashboard's HTTPS address (log in with skiff dashboard); 0.0.0.0:8443 exposes it, empty disables it")
	fl.BoolVar(&f.watchCache, "watch-cache", true, "serve watches and lists from memory, kept current by one etcd watch per kind: each change decoded once, lists consistent with etcd (false: every watch and list goes to etcd)")
	fl.StringSliceVar(&f.tlsSANs, "tls-san", nil, "more names or addresses for the server certificate (the listen address, localhost and the host name are in it)")
}

func serverCommand() *cobra.Command {
	f := &serverFlags{}
	var dnsListen string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API server (embedded etcd by default), registry, scheduler",
		Long: `Run the skiff API server. By default it embeds etcd in --data-dir; with
--etcd-endpoints it uses an external etcd cluster, and several servers can run
side by side. It writes the command line's config (the server address) to
--write-config so that skiff get/apply find it.`,
		Example: `  # a server for this machine only
  sudo skiff server --data-dir /var/lib/skiff

  # three servers sharing the embedded etcd (k3s-style)
  sudo skiff server --listen 10.0.0.1:6443 --cluster-init
  sudo skiff server --listen 10.0.0.2:6443 --server https://10.0.0.1:6443 \
      --token-file server-token    # a copy of 10.0.0.1's /var/lib/skiff/server-token

  # reachable by agents on other machines, on an external etcd
  skiff server --listen 0.0.0.0:6443 --etcd-endpoints https://10.0.0.5:2379 \
      --etcd-cafile ca.pem --etcd-certfile client.pem --etcd-keyfile client-key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			f.dnsListen = dnsListen
			return runServer(ctx, f, verbosity(cmd))
		},
	}
	f.register(cmd)
	f.cluster.register(cmd)
	cmd.AddCommand(serverRemoveCommand())
	cmd.Flags().StringVar(&dnsListen, "dns-listen", "", "also serve cluster DNS here (UDP and TCP), e.g. 10.0.0.1:53, and keep the Service kube-system/kube-dns (the service CIDR's .10) whose Endpoints list every live server's DNS; agents default --cluster-dns to its ClusterIP")
	return cmd
}

func runServer(ctx context.Context, f *serverFlags, verbose int) error {
	log, err := newLogger(os.Stderr, f.logFormat, verbose)
	if err != nil {
		return err
	}
	reg := newRegistry()
	cfg, err := f.config(log, reg)
	if err != nil {
		return err
	}
	metrics, err := serveMetrics(f.metricsAddr, reg, log)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics(ctx) })
	g.Go(func() error {
		_, err := controlplane.Start(ctx, g, cfg)
		return err
	})
	return g.Wait()
}

// config is the control plane the flags describe.
func (f *serverFlags) config(log *slog.Logger, reg *prometheus.Registry) (controlplane.Config, error) {
	etcdTLS, err := f.etcd.tlsConfig()
	if err != nil {
		return controlplane.Config{}, err
	}
	cfg := controlplane.Config{
		DataDir: f.dataDir, Listen: f.listen, EtcdListen: f.etcdListen,
		EtcdEndpoints: f.etcdEndpoints, EtcdTLS: etcdTLS, ClusterCIDR: f.clusterCIDR, ServiceCIDR: f.serviceCIDR,
		ClientConfig: f.clientConfig, RegistryAddr: f.registryAddr,
		DNSListen: f.dnsListen, ClusterDomain: f.clusterDomain, DNSUpstreams: f.dnsUpstreams,
		Controllers: f.controllers, Insecure: f.insecure, TLSSANs: f.tlsSANs,
		RotateSecretKey: f.rotateSecretKey, DashboardListen: f.dashboardAddr, Logger: log, Metrics: reg,
		DisableWatchCache: !f.watchCache, MetricsAddr: f.metricsAddr,
	}
	return cfg, f.cluster.apply(&cfg)
}
