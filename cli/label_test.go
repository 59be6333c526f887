package cli

import (
	"context"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestLabelAndAnnotate(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	for _, n := range []string{"n1", "n2"} {
		if _, err := r.srv.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: n, Labels: map[string]string{"zone": "a"}}}); err != nil {
			t.Fatal(err)
		}
	}
	meta := func(name string) *skiffv1.ObjectMeta {
		n, err := r.srv.Client.Nodes().Get(ctx, "", name)
		if err != nil {
			t.Fatal(err)
		}
		return n.Metadata
	}
	if res := r.runIn(nil, "label", "node", "n1", "disktype=ssd"); res.e != nil || res.out != "node/n1 labeled\n" || meta("n1").Labels["disktype"] != "ssd" {
		t.Fatalf("label: %+v %v", res, meta("n1").Labels)
	}
	if res := r.runIn(nil, "label", "node", "n1", "disktype=ssd"); res.e != nil || res.out != "node/n1 not labeled\n" {
		t.Fatalf("same label again: %+v", res)
	}
	res := r.runIn(nil, "label", "node", "n1", "zone=b")
	if res.e == nil || !strings.Contains(res.e.Error(), "already has a label zone=a; add --overwrite") || meta("n1").Labels["zone"] != "a" {
		t.Fatalf("changed a label without --overwrite: %+v", res)
	}
	if res := r.runIn(nil, "label", "nodes", "--all", "zone=b", "--overwrite"); res.e != nil || meta("n1").Labels["zone"] != "b" || meta("n2").Labels["zone"] != "b" {
		t.Fatalf("--all --overwrite: %+v", res)
	}
	if res := r.runIn(nil, "label", "node", "n1", "zone-"); res.e != nil || meta("n1").Labels["zone"] != "" || meta("n1").Labels["disktype"] != "ssd" {
		t.Fatalf("remove: %+v %v", res, meta("n1").Labels)
	}
	if res := r.runIn(nil, "label", "node", "n1", "bad key!=x"); res.e == nil || !strings.Contains(res.e.Error(), "labels") {
		t.Fatalf("an invalid key was taken: %+v", res)
	}
	if res := r.runIn(nil, "label", "node", "n1", "novalue"); res.e == nil || !strings.Contains(res.e.Error(), "want KEY=VALUE") {
		t.Fatalf("a bare key was taken: %+v", res)
	}
	if res := r.runIn(nil, "annotate", "node", "n2", "note=hello world"); res.e != nil || res.out != "node/n2 annotated\n" || meta("n2").Annotations["note"] != "hello world" {
		t.Fatalf("annotate: %+v", res)
	}
}
