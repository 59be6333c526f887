package cli

import (
	"context"
	"strings"
	"testing"
)

const webManifest = `apiVersion: skiff/v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: skiff/v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  containers:
  - name: app
    image: registry.local/web:1
    resources:
      requests: {cpu: 1, memory: 128974848}
    ports: [{containerPort: 8080}]
---
apiVersion: skiff/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

func TestApplyCreatedConfiguredUnchanged(t *testing.T) {
	r := newRunner(t)
	f := writeFile(t, "web.yaml", webManifest)
	if got := r.ok("apply", "-f", f); got != "namespace/shop created\npod/web created\nservice/web created\n" {
		t.Errorf("first apply:\n%s", got)
	}
	if got := r.ok("apply", "-f", f); got != "namespace/shop unchanged\npod/web unchanged\nservice/web unchanged\n" {
		t.Errorf("second apply:\n%s", got)
	}
	// A new image is the one change a pod's spec allows.
	changed := strings.Replace(webManifest, "registry.local/web:1", "registry.local/web:2", 1)
	changed = strings.Replace(changed, "port: 80,", "port: 81,", 1)
	f2 := writeFile(t, "web2.yaml", changed)
	if got := r.ok("apply", "-f", f2); got != "namespace/shop unchanged\npod/web configured\nservice/web configured\n" {
		t.Errorf("third apply:\n%s", got)
	}
	pod, err := r.srv.Client.Pods().Get(context.Background(), "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	c := pod.Spec.Containers[0]
	if c.Image != "registry.local/web:2" || c.Resources.Requests["cpu"] != "1" || c.Resources.Requests["memory"] != "128974848" {
		t.Errorf("stored container: %v", c)
	}

	// Anything else of a pod's spec: the server's reason reaches the user.
	bad := strings.Replace(webManifest, "cpu: 1,", "cpu: 2,", 1)
	res := r.runIn(strings.NewReader(bad), "apply", "-f", "-")
	if res.e == nil || !strings.Contains(res.err, "error: pod/web: Pod \"web\" is invalid: spec: a pod's spec cannot change except spec.containers[*].image") {
		t.Errorf("immutable spec: %+v", res)
	}
	if !strings.Contains(res.out, "service/web configured") && !strings.Contains(res.out, "service/web unchanged") {
		t.Errorf("other objects still applied: %q", res.out)
	}
}

func TestApplyYAMLOutputReappliesUnchanged(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	for _, args := range [][]string{
		{"get", "pod", "web", "-o", "yaml"},
		{"get", "pods", "-o", "yaml"},
		{"get", "svc", "web", "-o", "json"},
		{"get", "rs", "-o", "json"},
		{"get", "nodes", "-o", "yaml"},
		{"get", "vol", "-o", "yaml"},
		{"get", "as", "web", "-o", "yaml"},
		{"get", "ns", "team", "-o", "yaml"},
	} {
		out := r.ok(args...)
		if args[len(args)-1] == "yaml" && !strings.HasPrefix(out, "apiVersion: skiff/v1\n") {
			t.Errorf("%v does not start with apiVersion:\n%s", args, out)
		}
		res := r.runIn(strings.NewReader(out), "apply", "-f", "-")
		if res.e != nil {
			t.Errorf("re-apply of %v: %v\n%s", args, res.e, res.err)
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(res.out), "\n") {
			if !strings.HasSuffix(line, " unchanged") {
				t.Errorf("re-apply of %v: %q", args, line)
			}
		}
	}
	if out := r.ok("get", "pods", "-o", "yaml"); !strings.Contains(out, "kind: List") || !strings.Contains(out, "- apiVersion: skiff/v1") {
		t.Errorf("list yaml:\n%s", out)
	}
}

func TestApplyInvalidThirdDocumentAppliesNothing(t *testing.T) {
	r := newRunner(t)
	for _, tc := range []struct{ name, third, want string }{
		{"unknown field", "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  contaners: []\n",
			`document 3 (Pod "db"): unknown field "contaners" in spec (did you mean "containers"?)`},
		{"local check", "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  containers: [{name: a}]\n",
			`document 3 (Pod "db"): spec.containers[0].image: required`},
		{"malformed yaml", "apiVersion: skiff/v1\nkind: Pod\nmetadata:\n  name: db\n   labels: x\n",
			"document 3 (line 24): mapping values are not allowed in this context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := strings.Split(webManifest, "---\n")
			f := writeFile(t, "all.yaml", docs[0]+"---\n"+docs[1]+"---\n"+tc.third)
			res := r.run("apply", "-f", f)
			if res.e == nil || !strings.Contains(res.err, f+": "+tc.want) || !strings.HasSuffix(res.err, "\nnothing was applied\n") {
				t.Errorf("stderr:\n%s\nwant %q", res.err, tc.want)
			}
			if res.out != "" {
				t.Errorf("printed %q", res.out)
			}
			nss, _, err := r.srv.Client.Namespaces().List(context.Background(), clientListAll())
			if err != nil {
				t.Fatal(err)
			}
			for _, ns := range nss {
				if ns.Metadata.Name == "shop" {
					t.Fatal("namespace shop was created from a file with a bad document")
				}
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	r := newRunner(t)
	for _, tc := range []struct{ name, data, want string }{
		{"unknown kind", "apiVersion: skiff/v1\nkind: ControllerRevision\nmetadata: {name: x}\n",
			`error: stdin: document 1 (ControllerRevision "x"): unknown kind "ControllerRevision"; valid kinds: Autoscaler, ConfigMap, CronJob, DaemonSet, Deployment, Endpoints, Event, Job, Lease, Namespace, Node, PersistentVolume, Pod, ReplicaSet, ReplicationController, Secret, Service, StatefulSet, Volume`},
		{"deployment selector not matching its template", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {app: other}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: a, image: b}]}\n",
			`spec.selector`},
		{"wrong apiVersion", "apiVersion: apps/v1\nkind: Pod\nmetadata: {name: x}\n", `a Pod is v1, not apps/v1`},
		{"missing namespace", "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: x, namespace: nowhere}\nspec: {containers: [{name: a, image: b}]}\n",
			`error: pod/x: namespace "nowhere" not found; create it first (skiff create namespace nowhere`},
		{"namespace flag mismatch", "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: x, namespace: a}\nspec: {containers: [{name: a, image: b}]}\n",
			`its namespace "a" differs from -n b`},
		{"empty", "---\n# nothing\n", "no objects in [-]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"apply", "-f", "-"}
			if tc.name == "namespace flag mismatch" {
				args = append(args, "-n", "b")
			}
			res := r.runIn(strings.NewReader(tc.data), args...)
			if res.e == nil || !strings.Contains(res.err, tc.want) {
				t.Errorf("stderr %q\nwant %q", res.err, tc.want)
			}
			if strings.Count(res.err, "error:") != 1 {
				t.Errorf("error printed %d times: %q", strings.Count(res.err, "error:"), res.err)
			}
		})
	}
	if res := r.run("apply"); res.e == nil || !strings.Contains(res.err, "no manifest given") {
		t.Errorf("no -f: %q", res.err)
	}
}

func TestApplyNamespaceFlagAndCreateNamespace(t *testing.T) {
	r := newRunner(t)
	if got := r.ok("create", "namespace", "team"); got != "namespace/team created\n" {
		t.Errorf("create namespace: %q", got)
	}
	res := r.run("create", "namespace", "team")
	if res.e == nil || res.err != "error: namespace \"team\" already exists\n" {
		t.Errorf("again: %q", res.err)
	}
	pod := "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, image: b}]}\n"
	if got := r.runIn(strings.NewReader(pod), "apply", "-f", "-", "-n", "team"); got.out != "pod/x created\n" {
		t.Fatalf("apply -n: %+v", got)
	}
	if _, err := r.srv.Client.Pods().Get(context.Background(), "team", "x"); err != nil {
		t.Errorf("pod not in team: %v", err)
	}
}
