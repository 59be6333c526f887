package cli

import (
	"strings"
	"testing"
)

// ConfigMaps and Secrets through the command line: kubectl's columns, and
// describe shows a Secret's sizes, never its values.
func TestConfigMapAndSecretCommands(t *testing.T) {
	r := newRunner(t)
	res := r.runIn(strings.NewReader(`apiVersion: v1
kind: ConfigMap
metadata: {name: game}
data: {lives: "3", color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
type: kubernetes.io/basic-auth
stringData: {username: admin, password: hunter2-very-secret}
`), "apply", "-f", "-")
	if res.e != nil {
		t.Fatalf("apply: %v\n%s", res.e, res.err)
	}
	if got := res.out; !strings.Contains(got, "configmap/game created") || !strings.Contains(got, "secret/db created") {
		t.Fatalf("apply said:\n%s", got)
	}
	got := r.ok("get", "cm")
	if !strings.HasPrefix(got, "NAME   DATA   AGE\ngame   2      ") {
		t.Errorf("get cm:\n%s", got)
	}
	got = r.ok("get", "secrets")
	if !strings.HasPrefix(got, "NAME   TYPE                       DATA   AGE\ndb     kubernetes.io/basic-auth   2      ") {
		t.Errorf("get secrets:\n%s", got)
	}
	got = r.ok("describe", "secret", "db")
	if strings.Contains(got, "hunter2") || strings.Contains(got, "admin") {
		t.Fatalf("describe printed a Secret's value:\n%s", got)
	}
	for _, want := range []string{"Type:", "kubernetes.io/basic-auth", "password:", "19 bytes", "username:", "5 bytes"} {
		if !strings.Contains(got, want) {
			t.Errorf("describe secret lacks %q:\n%s", want, got)
		}
	}
	got = r.ok("describe", "configmap", "game")
	if !strings.Contains(got, "color:\n----\nblue") {
		t.Errorf("describe configmap:\n%s", got)
	}
	// Re-applying what get prints changes nothing.
	out := r.ok("get", "secret", "db", "-o", "yaml")
	if strings.Contains(out, "stringData") || !strings.Contains(out, "kind: Secret") {
		t.Errorf("get -o yaml:\n%s", out)
	}
	res = r.runIn(strings.NewReader(out), "apply", "-f", "-")
	if res.e != nil || !strings.Contains(res.out, "secret/db unchanged") {
		t.Errorf("re-apply: %v %s %s", res.e, res.out, res.err)
	}
}
