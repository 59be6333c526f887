package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
)

// The command line finds its server from what its environment says, in
// the documented order — --server, $SKIFF_SERVER, --config, $SKIFF_CONFIG,
// ~/.skiff/config — and from nothing else: each case below leaves the
// higher-ranked sources pointing at nothing and a lower-ranked one at a
// junk address, so the wrong choice fails.
func TestServerResolutionOrder(t *testing.T) {
	srv := apitest.Start(t)
	junk := "127.0.0.1:1" // nothing listens there
	config := func(server string) string {
		dir := t.TempDir()
		p := filepath.Join(dir, "config")
		if err := client.SaveConfig(p, &client.Config{Server: server}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	homeWith := func(server string) string {
		home := t.TempDir()
		if err := client.SaveConfig(filepath.Join(home, ".skiff", "config"), &client.Config{Server: server}); err != nil {
			t.Fatal(err)
		}
		return home
	}
	for _, tc := range []struct {
		name    string
		environ client.Environment
		flags   []string
	}{
		{"--server beats $SKIFF_SERVER", client.Environment{Server: junk, Home: homeWith(junk)}, []string{"--server", srv.Addr}},
		{"$SKIFF_SERVER beats the configs", client.Environment{Server: srv.Addr, Config: config(junk), Home: homeWith(junk)}, nil},
		{"--config beats $SKIFF_CONFIG", client.Environment{Config: config(junk), Home: homeWith(junk)}, []string{"--config", config(srv.Addr)}},
		{"$SKIFF_CONFIG beats ~/.skiff/config", client.Environment{Config: config(srv.Addr), Home: homeWith(junk)}, nil},
		{"~/.skiff/config of the environment's home", client.Environment{Home: homeWith(srv.Addr)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(newEnv(tc.environ))
			var out, errb strings.Builder
			root.SetOut(&out)
			root.SetErr(&errb)
			root.SetArgs(append(tc.flags, "--request-timeout", "20s", "get", "namespaces"))
			if err := root.Execute(); err != nil || !strings.Contains(out.String(), "default") {
				t.Fatalf("err=%v\nstdout=%q\nstderr=%q", err, out.String(), errb.String())
			}
		})
	}
}
