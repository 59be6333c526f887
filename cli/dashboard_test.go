package cli

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/pki"
)

// skiff dashboard asks the server for a one-time login token of the
// dashboard usage (dashboard-view with --read-only) and prints the URL.
func TestDashboardCommand(t *testing.T) {
	ca, err := pki.NewCA("cli-test", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokens := pki.NewTokenStore(dir, ca.Cert)
	nodes, err := pki.OpenNodeStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := apitest.Start(t, func(c *apiserver.Config) { c.Join = &apiserver.JoinConfig{CA: ca, Tokens: tokens, Nodes: nodes} })
	r := &runner{t: t, srv: srv, addr: srv.Addr, now: time.Now()}

	for _, tc := range []struct {
		args  []string
		usage string
	}{
		{[]string{"dashboard"}, pki.UsageDashboard},
		{[]string{"dashboard", "--read-only", "--ttl", "2m", "--url", "https://dash.example:9443/x?y#z"}, pki.UsageDashboardView},
	} {
		out := r.ok(tc.args...)
		var loginURL string
		for _, line := range strings.Split(out, "\n") {
			if s := strings.TrimSpace(line); strings.HasPrefix(s, "https://") {
				loginURL = s
			}
		}
		u, err := url.Parse(loginURL)
		if err != nil || !strings.HasPrefix(u.Fragment, "token=") || u.Path != "/login" {
			t.Fatalf("skiff %v printed no login URL:\n%s", tc.args, out)
		}
		info, err := tokens.Validate(strings.TrimPrefix(u.Fragment, "token="))
		if err != nil || info.Usage != tc.usage {
			t.Fatalf("token in %q: %+v %v, want a valid %s token", loginURL, info, err, tc.usage)
		}
		if len(tc.args) > 1 {
			if life := info.Expires.Sub(info.Created); u.Host != "dash.example:9443" || life < 2*time.Minute-time.Second || life > 2*time.Minute {
				t.Errorf("--url/--ttl: host %s, lifetime %v", u.Host, info.Expires.Sub(info.Created))
			}
		} else if _, port, _ := strings.Cut(u.Host, ":"); port != "8443" {
			t.Errorf("default URL %s, want the API server's host on port 8443", loginURL)
		}
	}
	if res := r.run("dashboard", "--ttl", "0"); res.e == nil || !strings.Contains(res.err, "--ttl") {
		t.Errorf("--ttl 0: %v %s", res.e, res.err)
	}
	if res := r.run("dashboard", "--url", "http://plain:80"); res.e == nil || !strings.Contains(res.err, "--url") {
		t.Errorf("--url http: %v %s", res.e, res.err)
	}
}
