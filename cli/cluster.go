package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/cluster"
	"github.com/skiff-sh/skiff/ports"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newClusterCommand is `skiff cluster`: kind-like local clusters, plus the
// provisioning and Prometheus helpers real machines use. The work is in
// package cluster.
func newClusterCommand(e *env) *cobra.Command {
	var o cluster.Options
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create, start, stop, list and delete local multi-node clusters (like kind)",
		Long: `Run a multi-node skiff cluster on this Linux machine, the way kind does for
Kubernetes. Each node is a network namespace with its own host name, data and
run directories, running skiff agent; the first node also runs skiff server
(with --servers 3 the servers are machines of their own, sharing etcd).
Nodes sit on a lab bridge (172.31.N.0/24) inside a namespace with no route out
of the machine; this host gets one address on that subnet to reach the server.

Each cluster keeps its files in ~/.skiff/clusters/NAME/, with a config for
the command line:
  skiff --config ~/.skiff/clusters/NAME/config get nodes
  export SKIFF_CONFIG=~/.skiff/clusters/NAME/config
A cluster survives stop and start (and a reboot, with start) with its objects,
volumes and running containers. Needs root.`,
		Example: `  sudo skiff cluster create --nodes 3
  export SKIFF_CONFIG=~/.skiff/clusters/skiff/config
  skiff get nodes -o wide
  sudo skiff cluster create --name ha --servers 3 --nodes 2
  sudo skiff cluster add-node node-4
  sudo skiff cluster remove-node node-4
  sudo skiff cluster stop && sudo skiff cluster start
  sudo skiff cluster delete`,
	}
	cmd.PersistentFlags().StringVar(&o.State, "state-dir", "", "where clusters keep their files (default ~/.skiff/clusters)")
	cmd.PersistentFlags().StringVar(&o.Run, "run-dir", "", "where clusters keep what a reboot clears: node run dirs, pinned namespaces (default "+cluster.DefaultRunRoot+")")
	cmd.AddCommand(
		clusterCreateCommand(e, &o), clusterLifecycleCommand(e, &o, "start"), clusterLifecycleCommand(e, &o, "stop"),
		clusterLifecycleCommand(e, &o, "delete"), clusterListCommand(e, &o),
		clusterAddNodeCommand(e, &o), clusterRemoveNodeCommand(e, &o),
		clusterProvisionCommand(), clusterTargetsCommand(e),
	)
	return cmd
}

// clusterDefaults fills what the flags left to the environment: progress
// notes go to the command's error stream, clusters live in
// ~/.skiff/clusters of the environment's home.
func clusterDefaults(e *env, o *cluster.Options, cmd *cobra.Command) {
	o.Progress = cmd.ErrOrStderr()
	if o.State == "" {
		o.State = filepath.Join(e.environ.Home, ".skiff", "clusters")
	}
}

func clusterCreateCommand(e *env, o *cluster.Options) *cobra.Command {
	var name string
	var nodes int
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create and start a local cluster",
		Long: `Create and start a local cluster. By default each node is a network
namespace of this machine, sharing its kernel. With one server (the default)
the first node runs skiff server beside its agent.

--servers 3 (or 5, 7) makes a control plane that survives losing a server:
server-1 … server-3 are machines of their own (network namespaces with
their own addresses) running only skiff server — server-1 with
--cluster-init, the others joining it with its server token, each embedded
etcd a member — and node-1 … node-N run the agents. Agents and the written
config know every server's address and fail over between them; pods'
nameserver is the kube-system/kube-dns Service (10.96.0.10), whose
Endpoints are every live server's DNS; skiff server list shows the
servers and the etcd leader.

With --vm each node is a QEMU guest with its own kernel (Debian's cloud
kernel, booted pure cgroup v2) and its root file system in RAM, running the
skiff agent from this binary; the server runs on this machine in the
cluster's lab namespace, and the guests join it with a join token over taps
on the lab bridge (no route out). The kernel is downloaded once with apt
into --vm-kernel-dir. KVM is used when this machine's KVM boots the guest,
QEMU's emulation otherwise. Needs qemu-system-x86_64 and busybox-static.
A VM node keeps nothing across cluster stop/start: it joins again as a
new machine.`,
		Example: `  sudo skiff cluster create
  sudo skiff cluster create --name dev --nodes 5
  sudo skiff cluster create --name ha --servers 3 --nodes 2
  skiff --config ~/.skiff/clusters/ha/config server list
  sudo skiff cluster create --name vms --vm --nodes 2 --vm-memory 768`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range []string{"vm-kernel-dir", "vm-memory", "vm-cpus"} {
				if cmd.Flags().Changed(f) && !o.VM.Enabled {
					return fmt.Errorf("--%s: only with --vm", f)
				}
			}
			clusterDefaults(e, o, cmd)
			info, err := cluster.Create(cmd.Context(), name, nodes, *o)
			if err != nil {
				return err
			}
			printClusterReady(cmd, info)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", cluster.DefaultName, "the cluster's name")
	cmd.Flags().IntVar(&nodes, "nodes", 3, "how many nodes run pods (with one server and no --vm, the first also runs it)")
	cmd.Flags().IntVar(&o.Servers, "servers", 1, "how many servers (1, 3, 5 or 7); more than one run on machines of their own")
	cmd.Flags().BoolVar(&o.VM.Enabled, "vm", false, "make the nodes QEMU guests with their own kernels (like minikube's qemu driver)")
	cmd.Flags().StringVar(&o.VM.KernelDir, "vm-kernel-dir", "", "with --vm: where the guest kernel is cached (default STATE-DIR/.vm)")
	cmd.Flags().IntVar(&o.VM.MemoryMB, "vm-memory", 0, "with --vm: each guest's memory in MB (default 768)")
	cmd.Flags().IntVar(&o.VM.CPUs, "vm-cpus", 0, "with --vm: each guest's virtual CPUs (default 1)")
	cmd.Flags().StringArrayVar(&o.ServerFlags, "server-flag", nil, "extra flag for skiff server, as --name=value (repeatable), e.g. --server-flag=--node-grace-period=10s")
	return cmd
}

func printClusterReady(cmd *cobra.Command, info cluster.Info) {
	if info.Servers > 1 {
		fmt.Fprintf(cmd.OutOrStdout(), "Cluster %q is ready: %d servers, %d nodes, API servers %s.\n", info.Name, info.Servers, info.Nodes, info.Server)
		fmt.Fprintf(cmd.OutOrStdout(), `Use it with:
  export SKIFF_CONFIG=%s
  skiff server list
Images: %s (the busybox demo image is %s)
`, info.ConfigFile, info.Registry, info.Image)
		return
	}
	fmt.Fprintf(cmd.OutOrStdout(), `Cluster %q is ready: %d nodes, API server %s.
Use it with:
  export SKIFF_CONFIG=%s
  skiff get nodes -o wide
Images: %s (the busybox demo image is %s)
`, info.Name, info.Nodes, info.Server, info.ConfigFile, info.Registry, info.Image)
}

func clusterLifecycleCommand(e *env, o *cluster.Options, verb string) *cobra.Command {
	var name string
	short := map[string]string{
		"start":  "Start a stopped cluster on its data",
		"stop":   "Stop a cluster's processes (containers and data stay)",
		"delete": "Delete a cluster: its pods, processes, namespaces and files",
	}[verb]
	cmd := &cobra.Command{
		Use:     verb,
		Short:   short,
		Example: fmt.Sprintf("  sudo skiff cluster %s --name dev", verb),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			clusterDefaults(e, o, cmd)
			switch verb {
			case "start":
				info, err := cluster.Start(cmd.Context(), name, *o)
				if err != nil {
					return err
				}
				printClusterReady(cmd, info)
				return nil
			case "stop":
				if err := cluster.Stop(name, *o); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Cluster %q stopped\n", name)
				return nil
			default:
				return cluster.Delete(cmd.Context(), name, *o)
			}
		},
	}
	cmd.Flags().StringVar(&name, "name", cluster.DefaultName, "the cluster's name")
	return cmd
}

func clusterAddNodeCommand(e *env, o *cluster.Options) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "add-node NODE",
		Short: "Add a node to a running local cluster (like kind/k3d node create)",
		Long: `Add a node named NODE to a running local cluster: a network namespace with
its own host name and an address on the lab bridge, its data and run
directories, and a skiff agent that joins with the cluster's token. The
command returns once the node is Ready; controllers then treat it like any
node that joins (a DaemonSet puts its pod on it, the scheduler uses it).
NODE is 1 to 15 lower-case letters, digits and dashes (it names the node's
port on the lab bridge). The node stays across cluster stop and start.`,
		Example: `  sudo skiff cluster add-node node-4
  sudo skiff cluster add-node gpu-1 --name dev
  skiff get nodes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clusterDefaults(e, o, cmd)
			info, err := cluster.AddNode(cmd.Context(), name, args[0], *o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Node %q joined cluster %q (%d nodes)\n", args[0], info.Name, info.Nodes)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", cluster.DefaultName, "the cluster's name")
	return cmd
}

func clusterRemoveNodeCommand(e *env, o *cluster.Options) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "remove-node NODE",
		Short: "Remove a node from a local cluster, as a machine switched off for good",
		Long: `Remove the node NODE from a local cluster: its agent stops, its Node is
deleted from the cluster (its pods go with it and their controllers make
them again elsewhere where they can; its certificates are revoked), then
its containers, mounts, namespaces and files are removed. Local volumes
that lived on it are lost with it: a StatefulSet pod pinned to one stays
Pending until its claim is deleted. A machine running a server cannot be
removed.`,
		Example: `  sudo skiff cluster remove-node node-3
  sudo skiff cluster remove-node gpu-1 --name dev`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clusterDefaults(e, o, cmd)
			if err := cluster.RemoveNode(cmd.Context(), name, args[0], *o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Node %q removed from cluster %q\n", args[0], name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", cluster.DefaultName, "the cluster's name")
	return cmd
}

func clusterListCommand(e *env, o *cluster.Options) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List local clusters with their node count and state",
		Example: "  skiff cluster list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			clusterDefaults(e, o, cmd)
			infos, err := cluster.List(o.Roots)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "NAME\tNODES\tSERVERS\tSTATE\tSERVER\tCONFIG")
			for _, i := range infos {
				fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\n", i.Name, i.Nodes, i.Servers, i.State, i.Server, i.ConfigFile)
			}
			return w.Flush()
		},
	}
}

// clusterProvisionCommand writes the env file a systemd unit of
// deploy/systemd reads: the same command lines a local cluster's nodes run.
func clusterProvisionCommand() *cobra.Command {
	var s cluster.ServerSpec
	var a cluster.AgentSpec
	var out string
	var upstreams []string
	cmd := &cobra.Command{
		Use:   "provision server|agent",
		Short: "Write the env file of a machine's skiff-server or skiff-agent unit",
		Long: `Write the systemd EnvironmentFile (SKIFF_ARGS=…) that deploy/systemd's
skiff-server.service and skiff-agent.service run with. Local clusters build
their nodes' command lines with the same code, so a Vagrant or real machine
runs the daemons exactly as the tested local clusters do.`,
		Example: `  skiff cluster provision server --address 192.168.56.10 -o /etc/skiff/server.env
  skiff cluster provision agent --api-server 192.168.56.10:6443 --address 192.168.56.11 \
      --node-name agent-1 -o /etc/skiff/agent.env
  skiff cluster provision server --address 192.168.56.20 --server-name server2 \
      --join-server https://192.168.56.10:6443 --server-token-file /etc/skiff/server-token`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"server", "agent"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var argv []string
			switch args[0] {
			case "server":
				if net.ParseIP(s.Address) == nil {
					return fmt.Errorf("--address %q: want this machine's IP address", s.Address)
				}
				s.DNSUpstreams = upstreams
				if (s.JoinServer == "") != (s.TokenFile == "") {
					return fmt.Errorf("--join-server and --server-token-file go together (the first server's <data dir>/server-token)")
				}
				if s.ClusterInit && s.JoinServer != "" {
					return fmt.Errorf("--cluster-init starts a cluster of servers and --join-server joins one: give one of them")
				}
				argv = cluster.ServerArgs(s)
			case "agent":
				if net.ParseIP(a.Address) == nil {
					return fmt.Errorf("--address %q: want this machine's IP address", a.Address)
				}
				// Several servers, comma-separated: the registry defaults
				// to the first's. DNS is the agent's default: the
				// kube-dns Service, over every server's DNS.
				host, _, err := net.SplitHostPort(firstOf(client.SplitServers(a.Server)))
				if err != nil {
					return fmt.Errorf("--api-server %q: want HOST:PORT[,HOST:PORT…]: %w", a.Server, err)
				}
				if a.NodeName == "" {
					a.NodeName, _ = os.Hostname()
				}
				if a.Registry == "" {
					a.Registry = net.JoinHostPort(host, strconv.Itoa(ports.Registry))
				}
				argv = cluster.AgentArgs(a)
			default:
				return fmt.Errorf("provision %q: want server or agent", args[0])
			}
			data, err := cluster.EnvFile(argv)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			return os.WriteFile(out, data, 0o644)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "-", "file to write (- for stdout)")
	f.StringVar(&s.Address, "address", "", "this machine's address (server and agent)")
	f.StringVar(&s.DataDir, "data-dir", "/var/lib/skiff", "data directory")
	f.StringVar(&s.ClusterCIDR, "cluster-cidr", "", "pod addresses (default: the daemons' own)")
	f.StringSliceVar(&upstreams, "dns-upstream", nil, "server: where cluster DNS forwards other names (default /etc/resolv.conf's)")
	f.BoolVar(&s.ClusterInit, "cluster-init", false, "server: the first of several servers (skiff server --cluster-init)")
	f.StringVar(&s.JoinServer, "join-server", "", "server: join the cluster of servers through this one, https://HOST:6443")
	f.StringVar(&s.TokenFile, "server-token-file", "", "server: with --join-server, the first server's <data dir>/server-token")
	f.StringVar(&s.ServerName, "server-name", "", "server: this server's name among several (default: the server picks one)")
	f.StringVar(&a.Server, "api-server", "", "agent: the API server, HOST:6443, or several comma-separated")
	f.StringVar(&a.NodeName, "node-name", "", "agent: this node's name (default: the host name)")
	f.StringVar(&a.RunDir, "run-dir", "/run/skiff/agent", "agent: run directory")
	f.StringVar(&a.ClusterDNS, "cluster-dns", "", "agent: pods' nameserver (default: the agent's, the kube-system/kube-dns Service's ClusterIP, over every server's DNS)")
	f.StringVar(&a.Registry, "registry", "", "agent: the server's registry HOST:PORT (default: server host:5000)")
	f.StringVar(&a.TokenFile, "token-file", "", "agent: file holding the join token (the server writes <data dir>/token)")
	cmd.PreRun = func(cmd *cobra.Command, args []string) {
		a.Address, a.DataDir, a.ClusterCIDR = s.Address, s.DataDir, s.ClusterCIDR
		if len(args) == 1 && args[0] == "agent" && !cmd.Flags().Changed("data-dir") {
			a.DataDir = "/var/lib/skiff/agent"
		}
	}
	return cmd
}

// clusterTargetsCommand writes Prometheus file_sd targets from the Node
// list of whatever cluster the command line points at.
func clusterTargetsCommand(e *env) *cobra.Command {
	var serverMetrics, out string
	var agentPort int
	cmd := &cobra.Command{
		Use:   "prometheus-targets",
		Short: "Write Prometheus file_sd targets for every server and every node's agent",
		Long: `Print (or write) a Prometheus file_sd JSON file listing the /metrics of
every live server (as each registered its --metrics-addr; skiff server
list shows the servers) and of every node agent (read from the cluster's
Node list). --server-metrics names one server's instead. Run it from cron
or a systemd timer; Prometheus re-reads the file when it changes. See
deploy/prometheus/README.md.`,
		Example: `  skiff cluster prometheus-targets -o /etc/prometheus/skiff.json
  skiff --config ~/.skiff/clusters/dev/config cluster prometheus-targets`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.call(cmd.Context())
			defer cancel()
			nodes, _, err := c.Nodes().List(ctx, client.ListOptions{})
			if err != nil {
				return err
			}
			servers := []cluster.ServerTarget{{Address: serverMetrics}}
			if serverMetrics == "" {
				if servers, err = serverTargets(ctx, c, e.addr); err != nil {
					return err
				}
			}
			data, err := cluster.MarshalTargets(cluster.PrometheusTargets(nodes, servers, agentPort))
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			tmp := out + ".tmp" // Prometheus must never read half a file
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, out)
		},
	}
	cmd.Flags().StringVar(&serverMetrics, "server-metrics", "", "one server's metrics HOST:PORT instead of every live server's as they registered them")
	cmd.Flags().IntVar(&agentPort, "agent-metrics-port", ports.AgentMetrics, "agents' metrics port")
	cmd.Flags().StringVarP(&out, "output", "o", "-", "file to write (- for stdout)")
	return cmd
}

// serverTargets is the metrics address of every live server, from the
// server list; a server too old to list its servers is asked for at its
// API host's default metrics port.
func serverTargets(ctx context.Context, c *client.Client, apiAddr string) ([]cluster.ServerTarget, error) {
	resp, err := skiffv1.NewServersClient(c.Conn()).List(ctx, &skiffv1.ListServersRequest{})
	if status.Code(err) == codes.Unimplemented {
		host, _, _ := net.SplitHostPort(apiAddr)
		return []cluster.ServerTarget{{Address: net.JoinHostPort(host, strconv.Itoa(ports.ServerMetrics))}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the servers (or give --server-metrics): %w", err)
	}
	return cluster.ServerTargets(resp.GetServers()), nil
}

func firstOf(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}
