package cli

import (
	"strings"
	"testing"
)

// Scaling what an autoscaler manages says so on stderr, naming the
// object; scaling what none manages says nothing.
func TestScaleNotesTheAutoscaler(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	api := `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: app, image: registry.local/api:1}]}
`
	if res := r.runIn(strings.NewReader(api), "apply", "-f", "-"); res.e != nil {
		t.Fatalf("apply: %+v", res)
	}
	res := r.run("scale", "rs", "--all", "--replicas", "4")
	if res.e != nil || res.out != "replicaset/api scaled\nreplicaset/web scaled\n" {
		t.Fatalf("scale rs --all: %+v", res)
	}
	note := "note: autoscaler/web manages replicaset/web and will set its replicas again"
	if res.err != note+"\n" {
		t.Fatalf("stderr should be %q alone, is %q", note, res.err)
	}
}
