package manifest

import (
	"strings"
	"testing"
)

// TestIncompleteDocumentsNameTheField feeds documents with parts missing,
// null or of the wrong type through Decode and Check, as `skiff apply`
// does: each must fail with the field's path, never panic.
func TestIncompleteDocumentsNameTheField(t *testing.T) {
	const head = "apiVersion: skiff/v1\nmetadata: {name: x}\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"replica set without spec", head + "kind: ReplicaSet\n", "spec: required"},
		{"replica set with null spec", head + "kind: ReplicaSet\nspec: null\n", "spec: required"},
		{"replica set without template", head + "kind: ReplicaSet\nspec: {replicas: 2}\n", "spec.template: required"},
		{"replica set with null template", head + "kind: ReplicaSet\nspec: {template: null}\n", "spec.template: required"},
		{"template without spec", head + "kind: ReplicaSet\nspec: {template: {metadata: {labels: {a: b}}}}\n", "spec.template.spec: required"},
		{"template with null spec", head + "kind: ReplicaSet\nspec: {template: {spec: null}}\n", "spec.template.spec: required"},
		{"template with no containers", head + "kind: ReplicaSet\nspec: {template: {spec: {containers: []}}}\n", "spec.template.spec.containers: at least one container"},
		{"negative replicas without template", head + "kind: ReplicaSet\nspec: {replicas: -1}\n", "spec.replicas: -1 must not be negative"},
		{"pod without spec", head + "kind: Pod\n", "spec: required"},
		{"pod with empty spec", head + "kind: Pod\nspec: {}\n", "spec.containers: at least one container"},
		{"pod with null containers", head + "kind: Pod\nspec: {containers: null}\n", "spec.containers: at least one container"},
		{"container without image", head + "kind: Pod\nspec: {containers: [{name: a}]}\n", "spec.containers[0].image: required"},
		{"container without name", head + "kind: Pod\nspec: {containers: [{image: a}]}\n", "spec.containers[0].name: required"},
		{"null container", head + "kind: Pod\nspec: {containers: [null]}\n", "spec.containers[0]: an empty list item"},
		{"containers not a list", head + "kind: Pod\nspec: {containers: 3}\n", "spec.containers: expected a list, got a number"},
		{"spec a list", head + "kind: Pod\nspec: [a]\n", "spec: expected a mapping, got a list"},
		{"spec a string", head + "kind: ReplicaSet\nspec: nothing\n", "spec: expected a mapping, got a string"},
		{"replicas a mapping", head + "kind: ReplicaSet\nspec: {replicas: {a: 1}}\n", "spec.replicas: expected a whole number, got a mapping"},
		{"resources a list", head + "kind: Pod\nspec: {containers: [{name: a, image: b, resources: [1]}]}\n", "spec.containers[0].resources: expected a mapping, got a list"},
		{"limit null", head + "kind: Pod\nspec: {containers: [{name: a, image: b, resources: {limits: {cpu: null}}}]}\n", "spec.containers[0].resources.limits.cpu: a value is required"},
		{"null metadata", "apiVersion: skiff/v1\nkind: Pod\nmetadata: null\nspec: {containers: [{name: a, image: b}]}\n", "metadata is missing"},
		{"no metadata", "apiVersion: skiff/v1\nkind: Namespace\n", "metadata is missing"},
		{"metadata a string", "apiVersion: skiff/v1\nkind: Namespace\nmetadata: x\n", "metadata: expected a mapping, got a string"},
		{"empty metadata", "apiVersion: skiff/v1\nkind: Namespace\nmetadata: {}\n", "metadata.name: required"},
		{"labels a list", "apiVersion: skiff/v1\nkind: Namespace\nmetadata: {name: x, labels: [a]}\n", "metadata.labels: expected a mapping, got a list"},
		{"service port null", head + "kind: Service\nspec: {ports: [{port: null}]}\n", "spec.ports[0].port: 0 is not a port number"},
		{"autoscaler without spec", head + "kind: Autoscaler\n", "spec: required"},
		{"autoscaler without target", head + "kind: Autoscaler\nspec: {maxReplicas: 2}\n", "spec.target: required"},
		{"event without reason", "apiVersion: skiff/v1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {name: p}\n", "reason: required"},
		{"event without object", "apiVersion: skiff/v1\nkind: Event\nmetadata: {name: e}\nreason: x\n", "involvedObject.name: required"},
		{"list item null", "apiVersion: skiff/v1\nkind: List\nitems: [null]\n", "items[0]: expected a mapping, got nothing"},
		{"list item without spec", "apiVersion: skiff/v1\nkind: List\nitems: [{apiVersion: skiff/v1, kind: ReplicaSet, metadata: {name: r}}]\n", "spec: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeAndCheck(tc.doc)
			if err == nil {
				t.Fatalf("accepted; want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "f.yaml: document 1") {
				t.Errorf("error %q does not name the document", err)
			}
		})
	}
}

// decodeAndCheck is what `skiff apply` does with a file before sending it.
func decodeAndCheck(doc string) error {
	objs, err := Decode("f.yaml", []byte(doc))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := Check(o); err != nil {
			return err
		}
	}
	return nil
}
