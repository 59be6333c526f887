package cli

import (
	"strings"
	"testing"
)

// TestApplyIncompleteDocuments runs `skiff apply -f -` on documents with
// parts missing or null: the command fails naming the field and applies
// nothing; it does not panic (the first case used to).
func TestApplyIncompleteDocuments(t *testing.T) {
	r := newRunner(t)
	for _, tc := range []struct{ name, data, want string }{
		{"replica set without spec", "apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: x}\n",
			`stdin: document 1 (ReplicaSet "x"): spec: required`},
		{"null template", "apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: x}\nspec: {replicas: 2, template: null}\n",
			`stdin: document 1 (ReplicaSet "x"): spec.template: required`},
		{"no containers", "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n",
			`stdin: document 1 (Pod "x"): spec.containers: at least one container is required`},
		{"wrong type", "apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: x}\nspec: {replicas: [2]}\n",
			"spec.replicas: expected a whole number, got a list"},
		{"null metadata", "apiVersion: skiff/v1\nkind: Pod\nmetadata: null\n", "metadata is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.runIn(strings.NewReader(tc.data), "apply", "-f", "-")
			if res.e == nil || !strings.Contains(res.err, tc.want) || !strings.Contains(res.err, "nothing was applied") {
				t.Errorf("stderr %q\nwant %q and nothing applied", res.err, tc.want)
			}
			if res.out != "" {
				t.Errorf("printed %q", res.out)
			}
		})
	}
}
