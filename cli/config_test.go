package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/client"
)

// The config's namespace is where commands work without -n; set-context
// sets it, view shows the config with its token hidden, and a server
// writing the config again keeps it.
func TestConfigNamespace(t *testing.T) {
	r := newRunner(t)
	path := filepath.Join(t.TempDir(), "config")
	if err := client.SaveConfig(path, &client.Config{Server: r.addr, Token: "secret-token"}); err != nil {
		t.Fatal(err)
	}
	if got := r.ok("--config", path, "config", "view"); !strings.Contains(got, "server: "+r.addr) || !strings.Contains(got, "token: REDACTED") {
		t.Errorf("config view:\n%s", got)
	}
	if got := r.ok("--config", path, "config", "view", "--raw"); !strings.Contains(got, "token: secret-token") {
		t.Errorf("config view --raw:\n%s", got)
	}
	r.ok("create", "namespace", "team")
	if got := r.ok("--config", path, "config", "set-context", "--current", "--namespace=team"); got != "Context modified: commands now work in namespace \"team\".\n" {
		t.Errorf("set-context: %q", got)
	}
	r.ok("--config", path, "apply", "-f", writeFile(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: here}\n"))
	if _, err := r.srv.Client.ConfigMaps().Get(t.Context(), "team", "here"); err != nil {
		t.Errorf("a manifest without a namespace did not go to the config's: %v", err)
	}
	if got := r.ok("--config", path, "get", "cm", "-o", "name"); got != "configmap/here\n" {
		t.Errorf("get in the config's namespace: %q", got)
	}
	if got := r.ok("--config", path, "-n", "default", "get", "cm", "-o", "name"); got != "" {
		t.Errorf("-n default still wins over the config: %q", got)
	}

	if err := client.SaveServerConfig(path, &client.Config{Server: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := client.LoadConfig(path); err != nil || cfg.Namespace != "team" || cfg.Server != "127.0.0.1:1" {
		t.Errorf("after a server wrote the config again: %+v, %v", cfg, err)
	}
	r.ok("--config", path, "config", "set-context", "--current", "--namespace=")
	if cfg, _ := client.LoadConfig(path); cfg.Namespace != "" {
		t.Errorf("an empty --namespace left %q", cfg.Namespace)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"config", "set-context", "--namespace=x"}, "skiff's config has one context: give --current"},
		{[]string{"config", "set-context", "prod", "--current", "--namespace=x"}, "skiff's config has one context"},
		{[]string{"config", "set-context", "--current"}, "give --namespace=NAME"},
		{[]string{"config", "set-context", "--current", "--namespace=Team_1"}, "--namespace=Team_1 is not a namespace name"},
	} {
		if res := r.run(append([]string{"--config", path}, c.args...)...); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("%v: %+v, want %q", c.args, res, c.want)
		}
	}
	if res := r.run("--config", filepath.Join(t.TempDir(), "none"), "config", "view"); res.e == nil || !strings.Contains(res.err, "skiff server or skiff up writes one") {
		t.Errorf("config view without a config: %+v", res)
	}
}
