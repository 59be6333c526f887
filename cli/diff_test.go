package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/client"
)

const dryRunDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`

func exitCodeOf(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

// --dry-run=server has the server check, default and answer each object
// as apply, create or replace would store it, and stores nothing.
func TestServerDryRun(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	f := writeFile(t, "d.yaml", dryRunDeployment)
	if got := r.ok("apply", "-f", f, "--dry-run=server"); got != "deployment/web created (server dry run)\n" {
		t.Errorf("apply --dry-run=server: %q", got)
	}
	if got := r.ok("create", "-f", f, "--dry-run=server", "-o", "yaml"); !strings.Contains(got, "uid: ") || !strings.Contains(got, "creationTimestamp: ") {
		t.Errorf("create --dry-run=server -o yaml does not show what the server would store:\n%s", got)
	}
	if _, err := r.srv.Client.Deployments().Get(ctx, "default", "web"); !client.IsNotFound(err) {
		t.Fatalf("a server dry run stored the deployment: %v", err)
	}
	r.ok("apply", "-f", f)
	if got := r.ok("apply", "-f", f, "--dry-run=server"); got != "deployment/web unchanged (server dry run)\n" {
		t.Errorf("apply --dry-run=server of what is stored: %q", got)
	}
	scaled := writeFile(t, "d3.yaml", strings.Replace(dryRunDeployment, "replicas: 2", "replicas: 3", 1))
	if got := r.ok("apply", "-f", scaled, "--dry-run=server"); got != "deployment/web configured (server dry run)\n" {
		t.Errorf("apply --dry-run=server of a change: %q", got)
	}
	if got := r.ok("replace", "-f", scaled, "--dry-run=server", "-o", "yaml"); !strings.Contains(got, "\n  replicas: 3\n") {
		t.Errorf("replace --dry-run=server answered replicas %q", got)
	}
	if d, err := r.srv.Client.Deployments().Get(ctx, "default", "web"); err != nil || d.GetSpec().GetReplicas() != 2 {
		t.Errorf("after dry runs the deployment has %d replicas (%v); want 2", d.GetSpec().GetReplicas(), err)
	}
	if res := r.run("apply", "-f", f, "--dry-run=maybe"); res.e == nil || !strings.Contains(res.err, `"server" (the server checks it, storing nothing)`) {
		t.Errorf("an unknown --dry-run: %+v", res)
	}
	if res := r.run("create", "deployment", "x", "--image", "nginx", "--dry-run=server"); res.e == nil || !strings.Contains(res.err, `use "client" (print the object) or "none"`) {
		t.Errorf("--dry-run=server where it is not supported: %+v", res)
	}
}

// skiff diff shows what apply would change, with kubectl diff's exit
// status, and hides secrets' values.
func TestDiff(t *testing.T) {
	r := newRunner(t)
	t.Setenv("KUBECTL_EXTERNAL_DIFF", "")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: before}\n"
	f := writeFile(t, "cm.yaml", cm)
	res := r.run("diff", "-f", f)
	if exitCodeOf(res.e) != 1 || !strings.Contains(res.out, "MERGED/ConfigMap.default.cfg") || !strings.Contains(res.out, "+  mode: before") {
		t.Fatalf("diff of an object not stored yet: exit %d %+v", exitCodeOf(res.e), res)
	}
	r.ok("apply", "-f", f)
	if res := r.run("diff", "-f", f); res.e != nil || res.out != "" {
		t.Errorf("diff of what is stored: %+v", res)
	}
	changed := writeFile(t, "cm2.yaml", strings.Replace(cm, "before", "after", 1))
	res = r.run("diff", "-f", changed)
	if exitCodeOf(res.e) != 1 || !strings.Contains(res.out, "-  mode: before\n+  mode: after\n") {
		t.Errorf("diff of a change: exit %d %+v", exitCodeOf(res.e), res)
	}
	if mode, _ := configMode(t, r); mode != "before" {
		t.Errorf("diff stored mode %q", mode)
	}

	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2, user: admin}\n"
	r.ok("apply", "-f", writeFile(t, "s.yaml", secret))
	res = r.run("diff", "-f", writeFile(t, "s2.yaml", strings.Replace(secret, "hunter2", "swordfish", 1)))
	if exitCodeOf(res.e) != 1 || !strings.Contains(res.out, "-  password: '*** (before)'\n+  password: '*** (after)'\n") ||
		strings.Contains(res.out, "hunter2") || strings.Contains(res.out, "swordfish") || strings.Contains(res.out, "admin") {
		t.Errorf("diff of a secret: exit %d %+v", exitCodeOf(res.e), res)
	}

	failing := filepath.Join(t.TempDir(), "differ")
	os.WriteFile(failing, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755)
	t.Setenv("KUBECTL_EXTERNAL_DIFF", failing)
	res = r.run("diff", "-f", changed)
	if exitCodeOf(res.e) != 2 || !strings.Contains(res.err, "failed with exit status 3") || !strings.Contains(res.err, "broken") {
		t.Errorf("a failing diff program: exit %d %+v", exitCodeOf(res.e), res)
	}
	if res := r.run("diff", "-f", writeFile(t, "bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: [x]\n")); exitCodeOf(res.e) != 2 {
		t.Errorf("diff of a bad manifest: exit %d %+v", exitCodeOf(res.e), res)
	}
}
