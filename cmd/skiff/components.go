package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/dnsserver"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/ports"
	"github.com/skiff-sh/skiff/scheduler"
)

// componentFlags are what every standalone component takes.
type componentFlags struct {
	metricsAddr string
	logFormat   string
	// connect makes the component's client; nil uses the command line's
	// config (its address, CA and certificate).
	connect func(ctx context.Context, addr string) (*client.Client, error)
}

func (f *componentFlags) register(cmd *cobra.Command, metricsPort int) {
	cmd.Flags().StringVar(&f.metricsAddr, "metrics-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(metricsPort)), "Prometheus /metrics address; empty disables it")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "text or json")
}

// runComponent connects to the API server and runs fn with the component's
// logger and metrics until SIGINT/SIGTERM.
func runComponent(cmd *cobra.Command, f *componentFlags, fn func(ctx context.Context, c *client.Client, env componentEnv) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log, err := newLogger(os.Stderr, f.logFormat, verbosity(cmd))
	if err != nil {
		return err
	}
	server, _ := cmd.Flags().GetString("server")
	configPath, _ := cmd.Flags().GetString("config")
	environ := client.OSEnvironment()
	configPath = environ.ConfigPath(configPath)
	addr, err := environ.ResolveServer(server, configPath)
	if err != nil {
		return err
	}
	connect := f.connect
	if connect == nil {
		connect = func(context.Context, string) (*client.Client, error) {
			opts, err := client.OptionsFor(configPath)
			if err != nil {
				return nil, err
			}
			return client.New(addr, opts)
		}
	}
	c, err := connect(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	reg := newRegistry()
	metrics, err := serveMetrics(f.metricsAddr, reg, log)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics(ctx) })
	g.Go(func() error { return fn(ctx, c, componentEnv{log: log, reg: reg}) })
	return g.Wait()
}

func schedulerCommand() *cobra.Command {
	f := &componentFlags{}
	var etcd []string
	var etcdTLS etcdClientFlags
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler alone (skiff server already runs one)",
		Long: `Run a scheduler against an API server. With --etcd-endpoints several
schedulers can run: they elect a leader through an etcd lease and only the
leader binds pods; another takes over a few seconds after it dies.`,
		Example: `  skiff scheduler --server 10.0.0.1:6443 --etcd-endpoints https://127.0.0.1:2379 \
      --etcd-cafile /var/lib/skiff/pki/ca.crt --etcd-certfile /var/lib/skiff/pki/etcd-client.crt \
      --etcd-keyfile /var/lib/skiff/pki/etcd-client.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runComponent(cmd, f, func(ctx context.Context, c *client.Client, env componentEnv) error {
				set := keptInformers(c, env)
				defer set.Stop()
				s, err := scheduler.New(scheduler.Config{Client: c, Logger: env.log, Metrics: env.reg, Informers: set})
				if err != nil {
					return err
				}
				if len(etcd) == 0 {
					env.log.Warn("no --etcd-endpoints: running without leader election; run only one scheduler")
					return s.Run(ctx)
				}
				t, err := etcdTLS.tlsConfig()
				if err != nil {
					return err
				}
				return leader.Run(ctx, leader.Config{Endpoints: etcd, TLS: t, Name: "scheduler", Identity: leader.HostIdentity(), Logger: env.log}, s.Run)
			})
		},
	}
	f.register(cmd, ports.SchedulerMetrics)
	cmd.Flags().StringSliceVar(&etcd, "etcd-endpoints", nil, "etcd for leader election (the server's: its --etcd-listen or --etcd-endpoints)")
	etcdTLS.register(cmd, false)
	return cmd
}

func dnsCommand() *cobra.Command {
	f := &componentFlags{}
	cfg := dnsserver.Config{}
	cmd := &cobra.Command{
		Use:   "dns",
		Short: "Run cluster DNS alone (skiff up already runs one on the node bridge)",
		Long: `Serve <service>.<namespace>.svc.<domain> with the IPs of the service's ready
pods, SRV records for named ports, pod and PTR records, and forward every
other name to the upstream resolvers.`,
		Example: `  sudo skiff dns --server 127.0.0.1:6443 --listen 10.88.0.1:53
  skiff dns --listen 127.0.0.1:5353 --upstream 127.0.0.1:53`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runComponent(cmd, f, func(ctx context.Context, c *client.Client, env componentEnv) error {
				cfg.Client, cfg.Logger, cfg.Metrics = c, env.log, env.reg
				dns, err := dnsserver.New(cfg)
				if err != nil {
					return err
				}
				return dns.Run(ctx)
			})
		},
	}
	f.register(cmd, ports.DNSMetrics)
	fl := cmd.Flags()
	fl.StringVar(&cfg.Listen, "listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.DNS)), "UDP and TCP address to serve")
	fl.StringVar(&cfg.Domain, "domain", defaults.ClusterDomain, "the cluster domain")
	fl.DurationVar(&cfg.TTL, "ttl", 5*time.Second, "TTL of cluster records")
	fl.StringSliceVar(&cfg.Upstreams, "upstream", nil, "resolvers for other names (default: /etc/resolv.conf's)")
	return cmd
}

// componentEnv is what runComponent hands a component.
func controllerCommand() *cobra.Command {
	f := &componentFlags{}
	var etcd []string
	var etcdTLS etcdClientFlags
	cfg := controller.Config{}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the controllers alone (skiff server already runs them)",
		Long: `Run the controllers: replica sets, garbage collection, node lifecycle (taint
and evict unreachable nodes) and the autoscaler. With --etcd-endpoints several
can run: they elect a leader through an etcd lease.`,
		Example: `  skiff controller --server 10.0.0.1:6443 --etcd-endpoints https://127.0.0.1:2379 \
      --etcd-cafile /var/lib/skiff/pki/ca.crt --etcd-certfile /var/lib/skiff/pki/etcd-client.crt \
      --etcd-keyfile /var/lib/skiff/pki/etcd-client.key
  skiff controller --node-grace-period 20s --pod-eviction-timeout 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runComponent(cmd, f, func(ctx context.Context, c *client.Client, env componentEnv) error {
				set := keptInformers(c, env)
				defer set.Stop()
				cfg.Client, cfg.Logger, cfg.Metrics, cfg.Informers = c, env.log, env.reg, set
				m, err := controller.New(cfg)
				if err != nil {
					return err
				}
				if len(etcd) == 0 {
					env.log.Warn("no --etcd-endpoints: running without leader election; run only one controller")
					return m.Run(ctx)
				}
				t, err := etcdTLS.tlsConfig()
				if err != nil {
					return err
				}
				return leader.Run(ctx, leader.Config{Endpoints: etcd, TLS: t, Name: "controller", Identity: leader.HostIdentity(), Logger: env.log}, m.Run)
			})
		},
	}
	f.register(cmd, ports.ControllerMetrics)
	cmd.Flags().StringSliceVar(&etcd, "etcd-endpoints", nil, "etcd for leader election (the server's: its --etcd-listen or --etcd-endpoints)")
	etcdTLS.register(cmd, false)
	registerControllerFlags(cmd, &cfg)
	return cmd
}

// registerControllerFlags are the controllers' settings, on every command
// that runs them.
func registerControllerFlags(cmd *cobra.Command, cfg *controller.Config) {
	fl := cmd.Flags()
	fl.DurationVar(&cfg.NodeGracePeriod, "node-grace-period", 40*time.Second, "a node silent this long turns NotReady (Unknown) and is tainted unreachable")
	fl.DurationVar(&cfg.PodEvictionTimeout, "pod-eviction-timeout", 5*time.Minute, "the pods of a node unreachable this long are deleted, to be recreated elsewhere")
	fl.DurationVar(&cfg.AutoscalerSyncPeriod, "autoscaler-sync-period", 15*time.Second, "how often autoscalers look at CPU use")
	fl.DurationVar(&cfg.ScaleDownWindow, "scale-down-window", 5*time.Minute, "autoscalers scale down to the highest recommendation of this window")
}

type componentEnv struct {
	log *slog.Logger
	reg *prometheus.Registry
}

// keptInformers is the informer set of a component run alone, kept across
// its leadership terms: winning the lease back lists nothing again.
func keptInformers(c *client.Client, env componentEnv) *client.SharedInformers {
	set := client.NewSharedInformers(c, env.log)
	set.KeepRunning()
	return set
}
