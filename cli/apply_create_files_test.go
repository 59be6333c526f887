package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/client"
)

// apply --dry-run=client reads the server but changes nothing, and says
// what it would do; -o name prints only the objects; -o yaml prints what
// would be (or was) sent, several objects as a List.
func TestApplyDryRunAndOutput(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	f := writeFile(t, "web.yaml", webManifest)
	if got := r.ok("apply", "-f", f, "--dry-run=client"); got != "namespace/shop created (dry run)\npod/web created (dry run)\nservice/web created (dry run)\n" {
		t.Errorf("dry run:\n%s", got)
	}
	if _, err := r.srv.Client.Namespaces().Get(ctx, "", "shop"); !client.IsNotFound(err) {
		t.Fatalf("a dry run stored the namespace: %v", err)
	}
	if got := r.ok("apply", "-f", f, "-o", "name"); got != "namespace/shop\npod/web\nservice/web\n" {
		t.Errorf("-o name:\n%s", got)
	}
	changed := writeFile(t, "web2.yaml", strings.Replace(webManifest, "registry.local/web:1", "registry.local/web:2", 1))
	got := r.ok("apply", "-f", changed, "--dry-run=client", "-o", "yaml")
	for _, want := range []string{"kind: List", "image: registry.local/web:2", "resourceVersion:"} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run -o yaml lacks %q:\n%s", want, got)
		}
	}
	if got := r.ok("apply", "-f", changed, "--dry-run"); !strings.Contains(got, "pod/web configured (dry run)\n") {
		t.Errorf("dry run over stored objects:\n%s", got)
	}
	pod, err := r.srv.Client.Pods().Get(ctx, "shop", "web")
	if err != nil || pod.Spec.Containers[0].Image != "registry.local/web:1" {
		t.Fatalf("after dry runs the stored pod is %v (%v), want image web:1", pod.GetSpec().GetContainers(), err)
	}
	if res := r.run("apply", "-f", f, "--dry-run=all"); res.e == nil || !strings.Contains(res.err, `--dry-run=all: use "client"`) {
		t.Errorf("--dry-run=all: %v %s", res.e, res.err)
	}
}

// create -f creates what the manifests describe; an object that exists is
// an error naming it while the others are still created.
func TestCreateFromFiles(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	f := writeFile(t, "web.yaml", webManifest)
	if got := r.ok("create", "-f", f); got != "namespace/shop created\npod/web created\nservice/web created\n" {
		t.Errorf("create -f:\n%s", got)
	}
	more := writeFile(t, "more.yaml", webManifest+"---\napiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec:\n  selector: {app: web}\n  ports: [{port: 81, targetPort: 8080}]\n")
	res := r.run("create", "-f", more)
	if res.e == nil || !strings.Contains(res.err, "pod/web:") || !strings.Contains(res.err, "already exists") {
		t.Errorf("create -f over existing objects: %v\nstderr: %s", res.e, res.err)
	}
	if res.out != "service/api created\n" {
		t.Errorf("create -f created %q, want service/api alone", res.out)
	}
	if _, err := r.srv.Client.Services().Get(ctx, "shop", "api"); err != nil {
		t.Errorf("the new service: %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "team"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "team", "ns.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := r.ok("create", "-R", "-f", dir, "--dry-run=client", "-o", "name"); got != "namespace/team\n" {
		t.Errorf("create -R --dry-run -o name: %q", got)
	}
	if _, err := r.srv.Client.Namespaces().Get(ctx, "", "team"); !client.IsNotFound(err) {
		t.Errorf("a dry run created the namespace: %v", err)
	}
	if res := r.run("create"); res.e == nil || !strings.Contains(res.err, "give -f FILE") {
		t.Errorf("create alone: %v %s", res.e, res.err)
	}
}

// A manifest with generateName and no name: create -f makes a new object
// each time, named by the server; apply refuses it (it could never find
// the object again) and applies nothing.
func TestCreateGenerateName(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	f := writeFile(t, "job.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  generateName: pi-
spec:
  template:
    spec:
      containers: [{name: pi, image: perl:5.34.0, command: ["perl", "-e", "print 1"]}]
      restartPolicy: Never
`)
	if got := r.ok("create", "-f", f, "--dry-run=client"); got != "job/pi- created (dry run)\n" {
		t.Errorf("dry run: %q", got)
	}
	for range 2 {
		if got := r.ok("create", "-f", f); !strings.HasPrefix(got, "job/pi-") || len(got) != len("job/pi-xxxxx created\n") {
			t.Errorf("create -f: %q", got)
		}
	}
	jobs, _, err := r.srv.Client.Jobs().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("%d jobs (%v), want 2", len(jobs), err)
	}
	res := r.run("apply", "-f", f)
	if res.e == nil || !strings.Contains(res.err, "metadata.generateName: apply needs a metadata.name") || !strings.Contains(res.err, "nothing was applied") {
		t.Errorf("apply of a generateName manifest: %v\n%s", res.e, res.err)
	}
}
