package cli

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/ports"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newDashboardCommand prints the web dashboard's address and a one-time
// login token, made by the server's Tokens service with this user's
// authorization (admins only).
func newDashboardCommand(e *env) *cobra.Command {
	var readOnly bool
	var ttl time.Duration
	var base string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Print the web dashboard's URL with a one-time login token",
		Long: `The server serves a web dashboard on its own HTTPS address (--dashboard-addr of
skiff server and skiff up; 127.0.0.1:8443 by default). Open the URL this prints:
the token in it logs the browser in once and is then spent, so a URL left in a
browser's history opens nothing. A token not used within --ttl expires.

The session acts as the admin (scale, delete pods, restart rollouts, cordon
nodes, each recorded in the audit log with the group skiff:dashboard); with
--read-only it acts as the Viewer, who reads everything but Secrets and
changes nothing. The browser must trust the cluster CA (ca.crt next to the
command line's config) or be told to accept the certificate.`,
		Example: `  skiff dashboard
  skiff dashboard --read-only --ttl 2m
  skiff dashboard --url https://server.example:8443`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl <= 0 {
				return fmt.Errorf("--ttl %s: must be positive (a login token must expire)", ttl)
			}
			usage, role := pki.UsageDashboard, "admin"
			if readOnly {
				usage, role = pki.UsageDashboardView, "read-only viewer"
			}
			return e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				u, err := dashboardURL(base, e.addr)
				if err != nil {
					return err
				}
				resp, err := skiffv1.NewTokensClient(c.Conn()).Create(ctx, &skiffv1.CreateTokenRequest{
					TtlSeconds: int64((ttl + time.Second - 1) / time.Second), Usage: usage, Description: "dashboard login",
				})
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Dashboard: %s\n", u)
				fmt.Fprintf(out, "Open this within %s to log in as %s (works once):\n  %slogin#token=%s\n", ttl, role, u, url.QueryEscape(resp.Token))
				fmt.Fprintf(out, "Or paste the token on the login page: %s\n", resp.Token)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "a session that reads and changes nothing")
	cmd.Flags().DurationVar(&ttl, "ttl", 10*time.Minute, "how long the login token can be used")
	cmd.Flags().StringVar(&base, "url", "", "the dashboard's URL (default: https://<API server host>:8443/)")
	return cmd
}

// dashboardURL is base, or the API server's host on the dashboard's
// default port; it always ends in "/".
func dashboardURL(base, apiAddr string) (string, error) {
	if base == "" {
		host, _, err := net.SplitHostPort(apiAddr)
		if err != nil {
			return "", fmt.Errorf("API server address %q: %w; give the dashboard's with --url", apiAddr, err)
		}
		return "https://" + net.JoinHostPort(host, strconv.Itoa(ports.Dashboard)) + "/", nil
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("--url %q: want https://HOST:PORT/", base)
	}
	u.Path, u.RawQuery, u.Fragment = "/", "", ""
	return u.String(), nil
}
