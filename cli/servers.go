package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// addServerList puts `server list` under the `server` command main passes
// in (the daemon), or under a `server` group of its own when there is
// none (a command line without the daemons).
func addServerList(root *cobra.Command, e *env) {
	for _, c := range root.Commands() {
		if c.Name() == "server" {
			c.AddCommand(newServerListCommand(e))
			return
		}
	}
	group := &cobra.Command{Use: "server", Short: "The servers of the control plane", Example: "  skiff server list"}
	group.AddCommand(newServerListCommand(e))
	root.AddCommand(group)
}

func newServerListCommand(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the servers of the control plane and their etcd members",
		Long: `List the control plane's servers as the answering server sees them: each
running server's registration (kept in etcd under a lease) beside the
embedded etcd's members. HEALTH is Healthy for a running server, Down for a
member whose server is not running (stopped, or cut off for longer than
15 s; remove it for good with "skiff server remove NAME"), Unstarted for a
member added by a join that never started. LEADER marks the etcd leader.
-o wide adds where each server serves metrics and cluster DNS (the
addresses the kube-system/kube-dns Endpoints list). Admins and viewers.`,
		Example: "  skiff server list\n  skiff server list -o wide",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "wide" {
				return fmt.Errorf("--output: %q is not a format of server list; give wide, or leave it out", output)
			}
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				resp, err := skiffv1.NewServersClient(c.Conn()).List(ctx, &skiffv1.ListServersRequest{})
				if err != nil {
					return err
				}
				return printServers(cmd.OutOrStdout(), resp.Servers, output == "wide", e.now())
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: wide adds the METRICS and DNS columns")
	return cmd
}

func printServers(out io.Writer, servers []*skiffv1.ServerInfo, wide bool, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	header := "NAME\tADDRESS\tETCD MEMBER\tLEADER\tHEALTH\tAGE"
	if wide {
		header += "\tMETRICS\tDNS"
	}
	fmt.Fprintln(w, header)
	for _, s := range servers {
		leader := ""
		if s.Leader {
			leader = "*"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s", orNone(s.Name), orDash(s.Address), orDash(s.EtcdMember), leader, s.Health, sinceOrDash(s.Started, now))
		if wide {
			fmt.Fprintf(w, "\t%s\t%s", orDash(s.MetricsAddress), orDash(s.DnsAddress))
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}
