package cli

import (
	"strings"
	"testing"
)

// api-resources lists every kind with its short names and the Kubernetes
// types its manifests may use; --namespaced and -o name filter and trim.
func TestAPIResources(t *testing.T) {
	r := newRunner(t)
	out := r.ok("api-resources")
	for _, want := range []string{"NAME ", "deployments ", "apps/v1 Deployment", "volumes ", "v1 PersistentVolumeClaim", "replicationcontrollers "} {
		if !strings.Contains(out, want) {
			t.Errorf("api-resources lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Fields(r.ok("api-resources", "--namespaced=false", "-o", "name")); strings.Join(got, ",") != "namespaces,nodes,persistentvolumes" {
		t.Errorf("cluster-wide kinds: %v", got)
	}
	if res := r.run("api-resources", "--namespaced=maybe"); res.e == nil || !strings.Contains(res.err, "give true or false") {
		t.Errorf("a bad --namespaced: %+v", res)
	}
}
