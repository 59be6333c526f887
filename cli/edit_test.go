package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const editConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: before}\n"

// editorScript makes an executable shell script and points KUBE_EDITOR at
// it; the script gets the file to edit as $1.
func editorScript(t *testing.T, body string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "editor")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nset -e\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBE_EDITOR", p)
	t.Setenv("EDITOR", "false")
}

func configMode(t *testing.T, r *runner) (string, string) {
	t.Helper()
	cm, err := r.srv.Client.ConfigMaps().Get(context.Background(), "default", "cfg")
	if err != nil {
		t.Fatal(err)
	}
	return cm.GetData()["mode"], cm.GetMetadata().GetResourceVersion()
}

// skiff edit stores what the editor saved, pinned to the version it read;
// a file saved unchanged stores nothing.
func TestEditStoresTheSavedObject(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "cm.yaml", editConfigMap))

	editorScript(t, `grep -q '^# Please edit the object below' "$1"; sed -i 's/mode: before/mode: after/' "$1"`)
	if got := r.ok("edit", "configmap", "cfg"); got != "configmap/cfg edited\n" {
		t.Errorf("edit said %q", got)
	}
	if mode, _ := configMode(t, r); mode != "after" {
		t.Errorf("stored mode %q, want after", mode)
	}

	t.Setenv("KUBE_EDITOR", "")
	t.Setenv("EDITOR", "true") // $EDITOR when $KUBE_EDITOR is empty; saves nothing
	_, rv := configMode(t, r)
	res := r.run("edit", "cm/cfg")
	if res.e != nil || !strings.Contains(res.err, "Edit cancelled, no changes made.") {
		t.Errorf("an unchanged file: %+v", res)
	}
	if _, now := configMode(t, r); now != rv {
		t.Errorf("an unchanged edit wrote: resourceVersion %s -> %s", rv, now)
	}

	editorScript(t, `sed -i 's/"mode": "after"/"mode": "json"/' "$1"`)
	r.ok("edit", "cm/cfg", "-o", "json")
	if mode, _ := configMode(t, r); mode != "json" {
		t.Errorf("after a JSON edit mode is %q", mode)
	}
}

// A Kubernetes Deployment is edited as the apps/v1 manifest it was made
// from, and stays one.
func TestEditKubernetesDeployment(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "d.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n"))
	editorScript(t, `grep -q '^apiVersion: apps/v1$' "$1"; sed -i 's/replicas: 1/replicas: 4/' "$1"`)
	if got := r.ok("edit", "deploy/web"); got != "deployment/web edited\n" {
		t.Errorf("edit said %q", got)
	}
	d, err := r.srv.Client.Deployments().Get(context.Background(), "default", "web")
	if err != nil || d.GetSpec().GetReplicas() != 4 {
		t.Fatalf("after the edit: replicas %d, %v; want 4", d.GetSpec().GetReplicas(), err)
	}
	if got := r.ok("get", "deploy/web", "-o", "yaml"); !strings.HasPrefix(got, "apiVersion: apps/v1\n") {
		t.Errorf("no longer a Kubernetes Deployment:\n%s", got)
	}
}

// A refused edit reopens the file with the reason at its top; fixed, it is
// stored; closed unchanged, it gives up and keeps the changes in a file.
func TestEditReopensWithTheError(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "cm.yaml", editConfigMap))
	dir := t.TempDir()
	editorScript(t, `
if [ ! -e `+dir+`/first ]; then
	touch `+dir+`/first
	sed -i 's/name: cfg/name: other/; s/mode: before/mode: fixed/' "$1"
else
	cp "$1" `+dir+`/reopened
	sed -i 's/name: other/name: cfg/' "$1"
fi`)
	if got := r.ok("edit", "cm", "cfg"); got != "configmap/cfg edited\n" {
		t.Errorf("edit said %q", got)
	}
	reopened, err := os.ReadFile(filepath.Join(dir, "reopened"))
	if err != nil {
		t.Fatalf("the editor was not opened again: %v", err)
	}
	if !strings.Contains(string(reopened), "# The edit could not be stored:\n# metadata.name: changed from \"cfg\" to \"other\"") ||
		!strings.Contains(string(reopened), "mode: fixed") {
		t.Errorf("the reopened file does not show the error over the user's changes:\n%s", reopened)
	}
	if mode, _ := configMode(t, r); mode != "fixed" {
		t.Errorf("stored mode %q, want fixed", mode)
	}

	editorScript(t, `grep -q '^# The edit could not be stored' "$1" || sed -i 's/mode: fixed/mode: [unclosed/' "$1"`)
	res := r.run("edit", "cm", "cfg")
	kept := regexp.MustCompile(`your changes are in (\S+)`).FindStringSubmatch(res.err)
	if res.e == nil || kept == nil {
		t.Fatalf("an edit closed unchanged after an error: %+v", res)
	}
	defer os.Remove(kept[1])
	if b, err := os.ReadFile(kept[1]); err != nil || !strings.Contains(string(b), "mode: [unclosed") {
		t.Errorf("kept file %s: %q, %v", kept[1], b, err)
	}
	if mode, _ := configMode(t, r); mode != "fixed" {
		t.Errorf("a refused edit stored mode %q", mode)
	}
}

// A change made by someone else while the editor is open is a conflict:
// nothing is overwritten and the user's changes are kept.
func TestEditConflict(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "cm.yaml", editConfigMap))
	dir := t.TempDir()
	editorScript(t, `touch `+dir+`/open; while [ ! -e `+dir+`/go ]; do sleep 0.05; done; sed -i 's/mode: before/mode: mine/' "$1"`)
	done := make(chan result, 1)
	go func() { done <- r.run("edit", "cm", "cfg") }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "open")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the editor did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx := context.Background()
	cm, err := r.srv.Client.ConfigMaps().Get(ctx, "default", "cfg")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{"mode": "theirs"}
	if _, err := r.srv.Client.ConfigMaps().Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	res := <-done
	kept := regexp.MustCompile(`your changes are in (\S+):`).FindStringSubmatch(res.err)
	if res.e == nil || kept == nil || !strings.Contains(res.err, "someone changed the object since the edit began") {
		t.Fatalf("a conflicting edit: %+v", res)
	}
	os.Remove(kept[1])
	if mode, _ := configMode(t, r); mode != "theirs" {
		t.Errorf("the conflicting edit overwrote: mode %q", mode)
	}
}

// Mistakes in the command name what to do.
func TestEditRefusals(t *testing.T) {
	r := newRunner(t)
	editorScript(t, "exit 0")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"edit", "cm"}, "name the object to edit: skiff edit configmap NAME"},
		{[]string{"edit", "cm/nope"}, "not found"},
		{[]string{"edit", "cm/x", "-o", "wide"}, "--output must be yaml or json"},
	} {
		if res := r.run(c.args...); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("%v: %+v, want %q", c.args, res, c.want)
		}
	}
	r.ok("apply", "-f", writeFile(t, "cm.yaml", editConfigMap))
	t.Setenv("KUBE_EDITOR", "exit 3;")
	if res := r.run("edit", "cm/cfg"); res.e == nil || !strings.Contains(res.err, `the editor "exit 3;" failed: exit status 3; nothing was stored`) {
		t.Errorf("a failing editor: %+v", res)
	}
}
