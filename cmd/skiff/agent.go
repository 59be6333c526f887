package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/nodeagent"
	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/ports"
)

// agentFlags are the flags of `skiff agent` (and the agent half of `up`).
type agentFlags struct {
	nodeName         string
	dataDir          string
	runDir           string
	listen           string
	advertiseAddress string
	clusterCIDR      string
	serviceCIDR      string
	clusterDNS       string
	insecure         []string
	registriesFile   string
	mirrors          []string // registry hosts mirrored by the cluster registry (up only)
	reservedCPU      string
	reservedMemory   string
	maxPods          int
}

func (f *agentFlags) register(cmd *cobra.Command, prefix string) {
	fl := cmd.Flags()
	fl.StringVar(&f.nodeName, "node-name", "", "this node's name (default: the host name)")
	fl.StringVar(&f.dataDir, prefix+"data-dir", "/var/lib/skiff/agent", "images, volumes and container state")
	fl.StringVar(&f.runDir, "run-dir", "/run/skiff/agent", "namespace mounts, per-pod files and pod addresses, gone at reboot (made a tmpfs when on a disk and empty)")
	fl.StringVar(&f.listen, "agent-listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Agent)), "the agent's gRPC address (logs, exec)")
	fl.StringVar(&f.advertiseAddress, "advertise-address", "", "this node's address as others reach it (default: the listen host, or 127.0.0.1)")
	if prefix == "" {
		fl.StringVar(&f.clusterCIDR, "cluster-cidr", defaults.ClusterCIDR, "the cluster's pod addresses, blackholed so pod traffic never leaves by the default route")
		fl.StringVar(&f.serviceCIDR, "service-cidr", defaults.ServiceCIDR, "the services' ClusterIPs, blackholed like the cluster CIDR; the proxy translates them")
	}
	fl.StringVar(&f.clusterDNS, "cluster-dns", "", "nameserver written into pods' resolv.conf (default: the ClusterIP of the Service kube-system/kube-dns, which servers run with --dns-listen keep; without it the node bridge address)")
	fl.StringSliceVar(&f.insecure, "insecure-registry", nil, "registries reached over plain HTTP (loopback always is)")
	fl.StringVar(&f.registriesFile, "registries", "", "registries.yaml, as k3s's: mirrors (endpoints tried before a registry, repository rewrites)")
	fl.StringVar(&f.reservedCPU, "reserved-cpu", "", "cpu kept back from pods for the system, e.g. 250m")
	fl.StringVar(&f.reservedMemory, "reserved-memory", "", "memory kept back from pods for the system, e.g. 256Mi")
	fl.IntVar(&f.maxPods, "max-pods", 110, "most pods this node runs")
}

func (f *agentFlags) config(c *client.Client) nodeagent.Config {
	return nodeagent.Config{
		Client: c, NodeName: f.nodeName, DataDir: f.dataDir, RunDir: f.runDir, TmpfsRunDir: true,
		Listen: f.listen, AdvertiseAddress: f.advertiseAddress,
		ClusterCIDR: f.clusterCIDR, ServiceCIDR: f.serviceCIDR, ClusterDNS: f.clusterDNS,
		InsecureRegistries: f.insecure,
		ReservedCPU:        f.reservedCPU, ReservedMemory: f.reservedMemory, MaxPods: f.maxPods,
	}
}

// registries loads --registries, if given.
func (f *agentFlags) registries() (image.Registries, error) {
	if f.registriesFile == "" {
		return image.Registries{}, nil
	}
	return image.LoadRegistries(f.registriesFile)
}

func agentCommand() *cobra.Command {
	f := &agentFlags{}
	cf := &componentFlags{}
	var token, tokenFile string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: register this node and run the pods bound to it",
		Long: `Run the node agent. It registers this machine as a Node, keeps its heartbeat,
and runs the pods the scheduler binds to it with skiff's own container runtime.
Stopping the agent leaves containers running; the next agent adopts them.
Needs root (namespaces, cgroups, mounts).

The first start joins the cluster with the join token in --token-file (the
server writes one to <its data dir>/token, valid for 24 hours; "skiff token
create --ttl 1h" makes more): the agent checks the server's CA against the
token before it sends the secret, and gets certificates for node:<its name>,
kept in <data dir>/pki for later starts, with the node password it made
(<data dir>/pki/node-password): another machine cannot join under the same
name until that Node is deleted.`,
		Example: `  sudo install -m 600 /dev/stdin /etc/skiff/token   # paste the token, Ctrl-D
  sudo skiff agent --server https://10.0.0.1:6443 --token-file /etc/skiff/token \
      --node-name worker-1 --agent-listen 0.0.0.0:10250 --advertise-address 10.0.0.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := f.config(nil)
			if cfg.NodeName == "" {
				cfg.NodeName, _ = os.Hostname()
			}
			var err error
			if cfg.Registries, err = f.registries(); err != nil {
				return err
			}
			if cmd.Flags().Changed("token") {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: --token shows the join token to every local user (ps, /proc); use --token-file")
			}
			if tokenFile != "" {
				data, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("--token-file: %w", err)
				}
				token = strings.TrimSpace(string(data))
			}
			var creds *pki.NodeCredentials
			if !insecure {
				cf.connect = func(ctx context.Context, addr string) (*client.Client, error) {
					var err error
					creds, err = pki.JoinNode(ctx, pki.JoinConfig{
						Server: addr, Token: token, Node: cfg.NodeName,
						Dir: filepath.Join(f.dataDir, "pki"), Addresses: agentAddresses(f),
					})
					if err != nil {
						return nil, err
					}
					cfg.ServerTLS, cfg.ImageTransport = creds.ServingTLS(), creds.ImageTransport()
					return client.New(addr, client.Options{TLS: creds.ClientTLS()})
				}
			} else {
				cf.connect = func(_ context.Context, addr string) (*client.Client, error) {
					return client.New(addr, client.Options{})
				}
			}
			return runComponent(cmd, cf, func(ctx context.Context, c *client.Client, env componentEnv) error {
				cfg.Client, cfg.Logger, cfg.Registerer = c, env.log, env.reg
				agent, err := nodeagent.New(cfg)
				if err != nil {
					return err
				}
				if creds != nil {
					go creds.KeepRenewed(ctx, c.Conn(), cfg.NodeName, advertisedAddress(f), agentAddresses(f), env.log)
				}
				return agent.Run(ctx)
			})
		},
	}
	f.register(cmd, "")
	cf.register(cmd, ports.AgentMetrics)
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the join token, for the first start (the server's <data dir>/token, or one from skiff token create)")
	cmd.Flags().StringVar(&token, "token", os.Getenv("SKIFF_TOKEN"), "the join token itself (default: $SKIFF_TOKEN); visible in ps: prefer --token-file")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "talk plain text to a server started with --insecure (tests only)")
	return cmd
}

// advertisedAddress is the address the API server dials this agent at, as
// the agent defaults it (nodeagent.Config): --advertise-address, else the
// listen host, else loopback.
func advertisedAddress(f *agentFlags) string {
	if f.advertiseAddress != "" {
		return f.advertiseAddress
	}
	host, _, _ := net.SplitHostPort(f.listen)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return host
	}
	return "127.0.0.1"
}
