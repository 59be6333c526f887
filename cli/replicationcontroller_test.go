package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The documentation's ReplicationController, as a kubectl user drives it:
// apply, get (kubectl's columns), -o yaml/json as v1 ReplicationController
// (re-applied unchanged), describe, scale rc/NAME, delete with its pods.
func TestReplicationControllerCommands(t *testing.T) {
	r := newRunner(t)
	startControllers(t, r)
	ctx := context.Background()
	c := r.srv.Client
	const doc = "../e2e/testdata/kubernetes/controllers/replication.yaml"
	mustContain(t, "apply", r.ok("apply", "-f", doc), "replicationcontroller/nginx created")

	// pods owned by the controller and not going.
	podsOf := func() []*skiffv1.Pod {
		t.Helper()
		all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		var out []*skiffv1.Pod
		for _, p := range all {
			refs := p.GetMetadata().GetOwnerReferences()
			if p.GetMetadata().GetDeletionTimestamp() == nil && len(refs) == 1 && refs[0].GetKind() == "ReplicationController" && refs[0].GetName() == "nginx" {
				out = append(out, p)
			}
		}
		return out
	}
	waitGet := func(what string, want ...string) string {
		t.Helper()
		var out string
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			r.now = time.Now()
			out = r.ok("get", "rc")
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(out, w)
			}
			if ok {
				return out
			}
		}
		t.Fatalf("%s: get rc printed\n%s\nwant %q", what, out, want)
		return ""
	}
	waitGet("3 replicas ready", "NAME    DESIRED   CURRENT   READY   AGE", "nginx   3         3         3       ")
	if n := len(podsOf()); n != 3 {
		t.Errorf("%d pods, want 3", n)
	}
	for _, kind := range []string{"replicationcontroller", "replicationcontrollers"} {
		mustContain(t, "get "+kind, r.ok("get", kind, "nginx"), "nginx   3         3         3")
	}
	mustContain(t, "get rc -o wide", r.ok("get", "rc", "-o", "wide"), "CONTAINERS   IMAGES   SELECTOR", "nginx        nginx    app=nginx")

	yaml := r.ok("get", "rc", "nginx", "-o", "yaml")
	if !strings.HasPrefix(yaml, "apiVersion: v1\nkind: ReplicationController\n") {
		t.Errorf("get rc -o yaml:\n%s", yaml)
	}
	mustContain(t, "get rc -o yaml", yaml, "selector:\n    app: nginx\n", "fullyLabeledReplicas: 3", "readyReplicas: 3")
	if got := r.ok("apply", "-f", writeFile(t, "rc.yaml", yaml)); got != "replicationcontroller/nginx unchanged\n" {
		t.Errorf("re-applying get -o yaml: %s", got)
	}
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Replicas int               `json:"replicas"`
			Selector map[string]string `json:"selector"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(r.ok("get", "rc", "nginx", "-o", "json")), &obj); err != nil {
		t.Fatal(err)
	}
	if obj.APIVersion != "v1" || obj.Kind != "ReplicationController" || obj.Spec.Replicas != 3 || obj.Spec.Selector["app"] != "nginx" {
		t.Errorf("get rc -o json: %+v", obj)
	}
	// The pods print as v1 Pods whose owner is a v1 ReplicationController.
	pod := r.ok("get", "pod", podsOf()[0].GetMetadata().GetName(), "-o", "yaml")
	mustContain(t, "a pod's owner", pod, "apiVersion: v1\n    controller: true\n    kind: ReplicationController\n    name: nginx")

	// Without a selector (the template's labels) and replicas (1), applied
	// twice: the second finds nothing to change.
	bare := writeFile(t, "bare.yaml", "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: bare}\n"+
		"spec:\n  template:\n    metadata: {labels: {app: bare}}\n    spec: {containers: [{name: c, image: busybox}]}\n")
	mustContain(t, "apply bare", r.ok("apply", "-f", bare), "replicationcontroller/bare created")
	if got := r.ok("apply", "-f", bare); got != "replicationcontroller/bare unchanged\n" {
		t.Errorf("re-applying a controller without selector: %s", got)
	}
	mustContain(t, "bare's defaults", r.ok("get", "rc", "bare", "-o", "yaml"), "replicas: 1\n", "selector:\n    app: bare\n")
	// Scaled, then applied again: the manifest never set replicas, so the
	// count stays.
	r.ok("scale", "rc/bare", "--replicas", "2")
	mustContain(t, "re-apply after scale", r.ok("apply", "-f", bare), "replicationcontroller/bare unchanged")
	if rc, err := c.ReplicationControllers().Get(ctx, "default", "bare"); err != nil || rc.GetSpec().GetReplicas() != 2 {
		t.Errorf("after scale and re-apply: replicas %d (%v), want 2", rc.GetSpec().GetReplicas(), err)
	}

	mustContain(t, "describe rc", r.ok("describe", "rc", "nginx"), "Selector:", "app=nginx", "3 current / 3 desired",
		"3 Ready / 3 Available / 3 Fully Labeled", "Image:", "nginx")

	// kubectl expose rc: a service selecting the controller's pods.
	mustContain(t, "expose", r.ok("expose", "rc", "nginx", "--port", "80"), "service/nginx exposed")
	svc, err := c.Services().Get(ctx, "default", "nginx")
	if err != nil {
		t.Fatal(err)
	}
	if sel := svc.GetSpec().GetSelector(); len(sel) != 1 || sel["app"] != "nginx" {
		t.Errorf("the exposed service selects %v", sel)
	}

	mustContain(t, "scale", r.ok("scale", "rc/nginx", "--replicas", "1"), "replicationcontroller/nginx scaled")
	waitGet("scaled to 1", "nginx   1         1         1       ")
	mustContain(t, "scale KIND NAME", r.ok("scale", "rc", "nginx", "--replicas", "2"), "replicationcontroller/nginx scaled")
	waitGet("scaled to 2", "nginx   2         2         2       ")
	if res := r.run("scale", "rc/", "--replicas", "2"); res.e == nil || !strings.Contains(res.err, "KIND/NAME") {
		t.Errorf("scale rc/ with no name: %q, %v", res.err, res.e)
	}

	mustContain(t, "delete", r.ok("delete", "rc", "nginx"), "replicationcontroller")
	for end := time.Now().Add(30 * time.Second); len(podsOf()) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d pods left after deleting their controller", len(podsOf()))
		}
	}
	if res := r.run("get", "rc", "nginx"); res.e == nil {
		t.Error("the controller is still there after delete")
	}
}
