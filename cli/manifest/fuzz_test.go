package manifest

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// FuzzDecode feeds arbitrary bytes to the decoder and the local checks, as
// `skiff apply` does: they must never panic, and whatever they accept must
// survive the trip `skiff get -o yaml` → `skiff apply` unchanged.
// testdata/fuzz/FuzzDecode holds the inputs that once crashed them.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		goodPod,
		"---\n---\n",
		"apiVersion: skiff/v1\nkind: Service\nmetadata: {name: w}\nspec: {ports: [{port: 80, targetPort: http}]}\n",
		"apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {replicas: 3.0, template: {spec: {containers: [{name: a, image: b}]}}}\n",
		"apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: x}\n",
		"apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: x}\nspec: {template: null, replicas: -1}\n",
		"apiVersion: skiff/v1\nkind: Node\nmetadata: {name: n1}\nstatus: {capacity: {cpu: 2}, conditions: [{type: Ready, status: \"True\", lastTransitionTime: \"2024-01-01T00:00:00Z\"}]}\n",
		"apiVersion: skiff/v1\nkind: List\nitems: [{apiVersion: skiff/v1, kind: Namespace, metadata: {name: a}}]\n",
		"apiVersion: skiff/v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [\n",
		"apiVersion: skiff/v1\nkind: Autoscaler\nmetadata: {name: a}\nspec: {target: web, maxReplicas: 3}\n",
		"apiVersion: skiff/v1\nkind: Event\nmetadata: {name: e}\ninvolvedObject: {name: p}\nreason: Started\n",
		"{\"apiVersion\":\"skiff/v1\",\"kind\":\"Volume\",\"metadata\":{\"name\":\"v\"},\"spec\":{\"capacity\":1e9}}",
		"- a\n- b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, o := range objs {
			if Check(o) != nil {
				continue
			}
			again := reapply(t, o)
			if !proto.Equal(o.Obj, again.Obj) {
				t.Fatalf("%s changed on the way through YAML:\n%v\n%v", o, o.Obj, again.Obj)
			}
		}
	})
}

// reapply prints an object as `skiff get -o yaml` does (Encode: in the
// apiVersion it was applied as) and decodes it again.
func reapply(t *testing.T, o Object) Object {
	t.Helper()
	j, err := Encode(o.Obj)
	if err != nil {
		t.Fatalf("%s: accepted object does not print: %v", o, err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode("printed.yaml", y)
	if err != nil || len(objs) != 1 {
		t.Fatalf("%s: printed as\n%s\ndoes not decode again: %v", o, y, err)
	}
	if err := Check(objs[0]); err != nil {
		t.Fatalf("%s: printed as\n%s\nfails the checks: %v", o, y, err)
	}
	return objs[0]
}
