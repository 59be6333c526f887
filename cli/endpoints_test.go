package cli

import (
	"context"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A service without a selector and its Endpoints written by hand, as
// Kubernetes' documentation does for a database outside the cluster.
const kubeEndpoints = `apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata:
  name: db
subsets:
- addresses: [{ip: 192.0.2.42}, {ip: 192.0.2.43, nodeName: node1}]
  notReadyAddresses: [{ip: 192.0.2.44}]
  ports: [{name: pg, port: 5432}]
`

// TestApplyKubernetesEndpoints: a v1 Endpoints is held as skiff's Endpoints
// (addresses ready, notReadyAddresses not), printed back as v1 Endpoints,
// re-applied unchanged, and shown by get endpoints and get svc.
func TestApplyKubernetesEndpoints(t *testing.T) {
	r := newRunner(t)
	f := writeFile(t, "db.yaml", kubeEndpoints)
	if got := r.ok("apply", "-f", f); got != "service/db created\nendpoints/db created\n" {
		t.Fatalf("apply:\n%s", got)
	}
	ep, err := r.srv.Client.Endpoints().Get(context.Background(), "default", "db")
	if err != nil {
		t.Fatal(err)
	}
	if s := ep.GetSlices(); len(s) != 1 || len(s[0].GetEndpoints()) != 3 || !s[0].GetEndpoints()[0].GetConditions().GetReady() ||
		s[0].GetEndpoints()[2].GetConditions().GetReady() || s[0].GetEndpoints()[1].GetNodeName() != "node1" || s[0].GetPorts()[0].GetProtocol() != "TCP" {
		t.Errorf("stored as %v", s)
	}

	out := r.ok("get", "endpoints", "db", "-o", "yaml")
	for _, want := range []string{"apiVersion: v1\nkind: Endpoints\n", "subsets:\n", "notReadyAddresses:\n  - ip: 192.0.2.44\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("get -o yaml lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "slices") || strings.Contains(out, "conditions") {
		t.Errorf("get -o yaml shows skiff's fields:\n%s", out)
	}
	back := writeFile(t, "back.yaml", out)
	if got := r.ok("apply", "-f", back); got != "endpoints/db unchanged\n" {
		t.Errorf("re-applying get -o yaml: %s\n%s", got, out)
	}

	if got := r.ok("get", "ep", "--no-headers"); !strings.Contains(got, "192.0.2.42:5432,192.0.2.43:5432 ") {
		t.Errorf("get ep:\n%s", got)
	}
	if got := r.ok("get", "svc", "db", "--no-headers"); !strings.Contains(got, "192.0.2.42:5432,192.0.2.43:5432 ") {
		t.Errorf("get svc:\n%s", got)
	}

	bad := writeFile(t, "bad.yaml", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: x}\nsubsets:\n- addresses: [{ip: 192.0.2.1, hostname: a}]\n")
	if res := r.run("apply", "-f", bad); res.e == nil || !strings.Contains(res.err, "subsets[0].addresses[0].hostname is not supported by skiff yet") {
		t.Errorf("hostname: %+v", res)
	}
	bad = writeFile(t, "bad2.yaml", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: x}\nsubsets:\n- addresses: [{ip: 192.0.2}]\n")
	if res := r.run("apply", "-f", bad); res.e == nil || !strings.Contains(res.err, `"192.0.2" is not an IPv4 address`) {
		t.Errorf("bad IP: %+v", res)
	}
}

// get svc -w prints a service's row again when only its Endpoints change,
// so the ENDPOINTS column follows them.
func TestGetServicesWatchFollowsEndpoints(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "db.yaml", kubeEndpoints))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	pr, pw := newPipe()
	go func() { done <- r.runWatch(ctx, pw, "get", "svc", "-w") }()
	pr.waitFor(t, "192.0.2.42:5432")
	if _, err := r.srv.Client.Endpoints().Modify(ctx, "default", "db", func(ep *skiffv1.Endpoints) error {
		ep.Slices[0].Endpoints[0].Addresses = []string{"192.0.2.99"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pr.waitFor(t, "192.0.2.99:5432")
	cancel()
	if res := <-done; res.e != nil {
		t.Fatalf("watch: %v %s", res.e, res.err)
	}
}
