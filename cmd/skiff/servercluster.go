package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/controlplane"
	"github.com/skiff-sh/skiff/ports"
)

// clusterFlags make `skiff server` one of several sharing the embedded
// etcd, as k3s's --cluster-init and --server.
type clusterFlags struct {
	clusterInit    bool
	server         string
	tokenFile      string
	serverName     string
	etcdPeerListen string
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.clusterInit, "cluster-init", false, "start a cluster of servers: the embedded etcd becomes its first member, and <data-dir>/"+controlplane.ServerTokenFile+" lets others join with --server")
	fl.StringVar(&f.server, "server", "", "join the cluster of servers this one belongs to (https://host:6443): this server's embedded etcd becomes a member")
	fl.StringVar(&f.tokenFile, "token-file", "", "with --server: the file holding the server token (the first server's <data-dir>/"+controlplane.ServerTokenFile+")")
	fl.StringVar(&f.serverName, "server-name", "", "this server's name in the cluster of servers (default: hostname-<random>, kept in <data-dir>/server-name)")
	fl.StringVar(&f.etcdPeerListen, "etcd-peer-listen", "", "with --cluster-init or --server: IP:port the embedded etcd serves the other servers on (default: the --listen IP, port "+strconv.Itoa(ports.EtcdPeer)+")")
}

// apply fills the control plane's cluster settings.
func (f *clusterFlags) apply(cfg *controlplane.Config) error {
	cfg.ClusterInit, cfg.JoinServer, cfg.ServerName, cfg.EtcdPeerListen = f.clusterInit, f.server, f.serverName, f.etcdPeerListen
	switch {
	case f.server != "" && f.tokenFile == "":
		return fmt.Errorf("--server needs --token-file: the first server's <data-dir>/%s", controlplane.ServerTokenFile)
	case f.server == "" && f.tokenFile != "":
		return fmt.Errorf("--token-file goes with --server (the server to join)")
	case f.server == "":
		return nil
	}
	b, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	cfg.JoinToken = strings.TrimSpace(string(b))
	return nil
}

func serverRemoveCommand() *cobra.Command {
	var dataDir, etcdListen string
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a server from the cluster of servers (its embedded etcd member)",
		Long: `Remove a stopped server's etcd member, so the cluster's quorum no longer
counts it. Run it as root on the host of a remaining server, after the
removed server stopped for good; the names are in each server's
<data-dir>/server-name and in its log. A removed server joins again only
with an empty --data-dir.`,
		Example: `  sudo skiff server remove node2-3fa9c2d1
  sudo skiff server remove s3 --data-dir /srv/skiff --etcd-listen 127.0.0.1:12379`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := controlplane.RemoveServer(cmd.Context(), dataDir, etcdListen, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "server %s removed\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "/var/lib/skiff", "the data dir of the server on this host")
	cmd.Flags().StringVar(&etcdListen, "etcd-listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Etcd)), "that server's embedded etcd client address")
	return cmd
}
