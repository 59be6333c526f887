package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newTokenCommand manages the join tokens agents present on their first
// start.
func newTokenCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke join tokens for agents",
		Long: `A join token lets new nodes join: the agent checks the server's CA against
the hash at the token's start, then trades the secret for certificates of its
own. Tokens expire. The server writes a default one to <data dir>/token,
valid for 24 hours and replaced by a fresh one when it expires; for a node
that joins later, make one with "token create --ttl" and hand it to the
agent's --token-file. A registry-push token (--usage registry-push) lets a
CI job push images to the cluster registry instead. Admins only.`,
		Example: `  skiff token create --ttl 1h --description "worker-7" > worker-7.token
  skiff token create --usage registry-push --ttl 2h --description ci
  skiff token list
  skiff token revoke abc123`,
	}
	var ttl time.Duration
	var description, usage string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Make a join token",
		Example: "  skiff token create --ttl 24h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				resp, err := skiffv1.NewTokensClient(c.Conn()).Create(ctx, &skiffv1.CreateTokenRequest{TtlSeconds: int64(ttl / time.Second), Description: description, Usage: usage})
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), resp.Token)
				return nil
			})
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token works; 0 for ever (not advised: a leaked token joins nodes until revoked)")
	create.Flags().StringVar(&usage, "usage", "join", "join (an agent's first start) or registry-push (CI pushes to the cluster registry)")
	create.Flags().StringVar(&description, "description", "", "a note shown by token list")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List join tokens (never their secrets)",
		Example: "  skiff token list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				resp, err := skiffv1.NewTokensClient(c.Conn()).List(ctx, &skiffv1.ListTokensRequest{})
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
				fmt.Fprintln(w, "ID\tUSAGE\tCREATED\tEXPIRES\tSTATE\tDESCRIPTION")
				for _, t := range resp.Tokens {
					expires, state := "never", "valid"
					if t.Expires != nil {
						expires = t.Expires.AsTime().Local().Format(time.RFC3339)
						if t.Expires.AsTime().Before(e.now()) {
							state = "expired"
						}
					}
					if t.Revoked {
						state = "revoked"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Id, t.Usage, t.Created.AsTime().Local().Format(time.RFC3339), expires, state, t.Description)
				}
				return w.Flush()
			})
		},
	}
	revoke := &cobra.Command{
		Use:     "revoke ID...",
		Short:   "Revoke join tokens: they no longer let nodes join",
		Example: "  skiff token revoke abc123",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				for _, id := range args {
					if _, err := skiffv1.NewTokensClient(c.Conn()).Revoke(ctx, &skiffv1.RevokeTokenRequest{Id: id}); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", id)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
