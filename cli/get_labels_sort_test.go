package cli

import (
	"context"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// get --show-labels adds a LABELS column, -L a column per label (kubectl's
// header: the key's last part, upper-cased), --sort-by orders by a
// JSONPath's value (numbers as numbers, missing values first).
func TestGetLabelColumnsAndSortBy(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	for _, p := range []struct {
		name   string
		labels map[string]string
		grace  int64
	}{
		{"b", map[string]string{"app": "web", "app.kubernetes.io/tier": "front"}, 10},
		{"a", map[string]string{"app": "db"}, 9},
		{"c", nil, 100},
	} {
		pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: p.name, Labels: p.labels},
			Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "app", Image: "busybox:1.36"}}}}
		if p.grace != 100 {
			pod.Spec.TerminationGracePeriodSeconds = &p.grace
		}
		if _, err := r.srv.Client.Pods().Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	got := r.ok("get", "pods", "--show-labels", "-L", "app,app.kubernetes.io/tier")
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if len(lines) != 4 || !strings.HasSuffix(strings.Join(strings.Fields(lines[0]), " "), "AGE APP TIER LABELS") {
		t.Fatalf("headers:\n%s", got)
	}
	want := map[string]string{
		"a": "db app=db",
		"b": "web front app=web,app.kubernetes.io/tier=front",
		"c": "<none>",
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if row := strings.Join(f, " "); !strings.HasSuffix(row, " "+want[f[0]]) {
			t.Errorf("row of %s ends %q, want %q", f[0], row, want[f[0]])
		}
	}

	names := func(args ...string) string {
		out := r.ok(append([]string{"get", "pods", "-o", "name"}, args...)...)
		return strings.Join(strings.Fields(out), " ")
	}
	if got := names("--sort-by=.spec.terminationGracePeriodSeconds"); got != "pod/a pod/b pod/c" {
		// c has the default of 30 from the server: 9 < 10 < 30.
		t.Errorf("by a number: %s", got)
	}
	if got := names("--sort-by={.metadata.labels.app}"); got != "pod/c pod/a pod/b" {
		t.Errorf("by a label, missing first: %s", got)
	}
	if res := r.run("get", "pods", "--sort-by=.spec.containers[*].name"); res.e != nil {
		t.Errorf("one container each: %+v", res)
	}
	if res := r.run("get", "pods", "--sort-by=.metadata.labels"); res.e == nil || !strings.Contains(res.err, "an object or a list") {
		t.Errorf("by a map: %+v", res)
	}
}

// kubectl's TYPE/NAME arguments name the objects to get, describe, label
// and delete.
func TestSlashNames(t *testing.T) {
	r := newRunner(t)
	r.ok("apply", "-f", writeFile(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"))
	if got := r.ok("get", "cm/a", "configmaps/b", "-o", "name"); got != "configmap/a\nconfigmap/b\n" {
		t.Errorf("get cm/a configmaps/b: %q", got)
	}
	if got := r.ok("get", "cm/a", "ns/default", "cm/b", "-o", "name"); got != "configmap/a\nconfigmap/b\nnamespace/default\n" {
		t.Errorf("get cm/a ns/default cm/b: %q", got)
	}
	if got := r.ok("get", "cm/a", "ns/default"); !strings.Contains(got, "configmap/a") || !strings.Contains(got, "namespace/default") {
		t.Errorf("a table of two kinds:\n%s", got)
	}
	if got := r.ok("get", "cm/a", "ns/default", "-o", "yaml"); !strings.Contains(got, "\nitems:\n") || !strings.HasSuffix(got, "\nkind: List\n") || strings.Count(got, "\n  kind: ") != 2 {
		t.Errorf("two kinds as yaml, want one List:\n%s", got)
	}
	if got := r.ok("get", "cm/a", "-o", "jsonpath={.metadata.name}"); got != "a" {
		t.Errorf("one object named so prints bare: %q", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "cm/a", "b"}, `"b": with TYPE/NAME arguments, give every object so`},
		{[]string{"get", "cm/"}, `"cm/": no name after the slash`},
		{[]string{"get", "cm/a", "svc/b"}, `service "b" not found`},
		{[]string{"get", "cm/nope"}, "not found"},
	} {
		if res := r.run(c.args...); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("%v: %+v, want %q", c.args, res, c.want)
		}
	}
	r.ok("label", "cm/a", "tier=web")
	r.ok("annotate", "configmap/a", "note=x")
	if got := r.ok("get", "cm", "-l", "tier=web", "-o", "jsonpath={.items[*].metadata.annotations.note}"); got != "x" {
		t.Errorf("label cm/a and annotate configmap/a: %q", got)
	}
	if got := r.ok("describe", "cm/a", "cm/b"); !strings.Contains(got, "Name:") || strings.Count(got, "Name:") != 2 {
		t.Errorf("describe cm/a cm/b:\n%s", got)
	}
	if res := r.run("describe", "cm"); res.e == nil || !strings.Contains(res.err, "name what to describe: skiff describe cm NAME") {
		t.Errorf("describe without a name: %+v", res)
	}
	r.ok("create", "namespace", "gone")
	if got := r.ok("describe", "cm/a", "ns/gone"); strings.Count(got, "Name:") != 2 {
		t.Errorf("describe cm/a ns/gone:\n%s", got)
	}
	if res := r.run("delete", "cm/a", "-l", "x=y"); res.e == nil || !strings.Contains(res.err, "give names, or -l SELECTOR or --all, not both") {
		t.Errorf("delete cm/a -l: %+v", res)
	}
	if got := r.ok("delete", "cm/a", "ns/gone", "cm/b"); !strings.Contains(got, `configmap "a" deleted`) || !strings.Contains(got, `configmap "b" deleted`) || !strings.Contains(got, `namespace "gone" deleted`) {
		t.Errorf("delete cm/a ns/gone cm/b: %q", got)
	}
}
