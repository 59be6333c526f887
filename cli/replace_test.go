package cli

import (
	"context"
	"strings"
	"testing"
)

// replace swaps the stored objects for the manifest's: what apply would
// keep (a label added since) goes; a missing object and a stale pinned
// resourceVersion are errors that store nothing.
func TestReplace(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	f := writeFile(t, "web.yaml", webManifest)
	if res := r.run("replace", "-f", f); res.e == nil || !strings.Contains(res.err, "not found") {
		t.Fatalf("replace of objects that do not exist: %+v", res)
	}
	r.ok("apply", "-f", f)
	r.ok("-n", "shop", "label", "svc", "web", "added=since")
	changed := writeFile(t, "web2.yaml", strings.Replace(webManifest, "port: 80,", "port: 81,", 1))
	if got := r.ok("replace", "-f", changed); got != "namespace/shop replaced\npod/web replaced\nservice/web replaced\n" {
		t.Errorf("replace: %q", got)
	}
	s, err := r.srv.Client.Services().Get(ctx, "shop", "web")
	if err != nil || s.Spec.Ports[0].Port != 81 || s.Metadata.Labels["added"] != "" || s.Spec.ClusterIp == "" {
		t.Errorf("after replace: ports %v labels %v clusterIP %q (%v); want port 81, no added label, the allocated IP kept", s.GetSpec().GetPorts(), s.GetMetadata().GetLabels(), s.GetSpec().GetClusterIp(), err)
	}
	stale := writeFile(t, "stale.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop, resourceVersion: \"1\"}\nspec:\n  selector: {app: web}\n  ports: [{port: 82, targetPort: 8080}]\n")
	if res := r.run("replace", "-f", stale); res.e == nil || !strings.Contains(res.err, "changed since metadata.resourceVersion 1") {
		t.Errorf("a stale resourceVersion: %+v", res)
	}
	if got := r.ok("replace", "-f", stale, "--dry-run=client", "-o", "name"); got != "service/web\n" {
		t.Errorf("dry run: %q", got)
	}
	if s, _ := r.srv.Client.Services().Get(ctx, "shop", "web"); s.Spec.Ports[0].Port != 81 {
		t.Errorf("a refused or dry replace stored port %d", s.Spec.Ports[0].Port)
	}
}
