package cli

import (
	"context"
	"strings"
	"testing"
)

// patch changes fields through each kind of patch, says when nothing
// changed, and refuses a patch that renames the object, storing nothing.
func TestPatch(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	r.ok("apply", "-f", writeFile(t, "web.yaml", webManifest))
	podImage := func() string {
		t.Helper()
		p, err := r.srv.Client.Pods().Get(ctx, "shop", "web")
		if err != nil {
			t.Fatal(err)
		}
		return p.Spec.Containers[0].Image
	}

	if got := r.ok("-n", "shop", "patch", "pod", "web", "-p", `{"spec":{"containers":[{"name":"app","image":"registry.local/web:2"}]}}`); got != "pod/web patched\n" {
		t.Errorf("strategic: %q", got)
	}
	p, _ := r.srv.Client.Pods().Get(ctx, "shop", "web")
	if c := p.Spec.Containers[0]; c.Image != "registry.local/web:2" || len(c.Ports) != 1 || c.Resources.Requests["cpu"] != "1" {
		t.Errorf("after a strategic patch of the image, the container is %v", c)
	}
	if got := r.ok("-n", "shop", "patch", "pod/web", "-p", "spec:\n  containers:\n  - {name: app, image: registry.local/web:2}\n"); got != "pod/web patched (no change)\n" {
		t.Errorf("the same patch in YAML again: %q", got)
	}
	if got := r.ok("-n", "shop", "patch", "svc", "web", "--type=merge", "-p", `{"metadata":{"labels":{"team":"shop"}}}`); got != "service/web patched\n" {
		t.Errorf("merge: %q", got)
	}
	if s, _ := r.srv.Client.Services().Get(ctx, "shop", "web"); s.GetMetadata().GetLabels()["team"] != "shop" {
		t.Errorf("merge patch label: %v", s.GetMetadata().GetLabels())
	}
	if got := r.ok("-n", "shop", "patch", "pod", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/containers/0/image","value":"registry.local/web:3"}]`); got != "pod/web patched\n" || podImage() != "registry.local/web:3" {
		t.Errorf("json: %q, image %s", got, podImage())
	}
	got := r.ok("-n", "shop", "patch", "pod", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/containers/0/image","value":"registry.local/web:4"}]`, "--dry-run=client", "-o", "yaml")
	if !strings.Contains(got, "image: registry.local/web:4") || podImage() != "registry.local/web:3" {
		t.Errorf("dry run printed %s, stored image %s", got, podImage())
	}
	for _, tc := range []struct{ args, want string }{
		{`patch pod web --type=merge -p {"metadata":{"name":"other"}}`, "metadata.name and metadata.namespace cannot change"},
		{`patch pod web`, "give the patch"},
		{`patch pod web --type=apply -p {}`, "use strategic, merge or json"},
		{`patch pod -p {}`, "which Pod?"},
		{`patch pod nope -p {}`, "not found"},
		{`patch pod web --type=json -p [{"op":"test","path":"/spec/containers/0/image","value":"x"}]`, "test failed"},
	} {
		res := r.run(append([]string{"-n", "shop"}, strings.Fields(tc.args)...)...)
		if res.e == nil || !strings.Contains(res.err, tc.want) {
			t.Errorf("skiff %s: %+v, want an error with %q", tc.args, res, tc.want)
		}
	}
	if podImage() != "registry.local/web:3" {
		t.Errorf("a refused patch stored something: image %s", podImage())
	}
}
