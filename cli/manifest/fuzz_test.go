package manifest

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, and
// whatever it accepts must survive a protojson round trip and Check.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		goodPod,
		"---\n---\n",
		"apiVersion: skiff/v1\nkind: Service\nmetadata: {name: w}\nspec: {ports: [{port: 80, targetPort: http}]}\n",
		"apiVersion: skiff/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec: {replicas: 3.0, template: {spec: {containers: [{name: a, image: b}]}}}\n",
		"apiVersion: skiff/v1\nkind: Node\nmetadata: {name: n1}\nstatus: {capacity: {cpu: 2}, conditions: [{type: Ready, status: \"True\", lastTransitionTime: \"2024-01-01T00:00:00Z\"}]}\n",
		"apiVersion: skiff/v1\nkind: List\nitems: [{apiVersion: skiff/v1, kind: Namespace, metadata: {name: a}}]\n",
		"apiVersion: skiff/v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [\n",
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
			_ = Check(o)
			j, err := protojson.Marshal(o.Obj)
			if err != nil {
				t.Fatalf("accepted object does not marshal: %v", err)
			}
			n := o.Info.New()
			if err := protojson.Unmarshal(j, n); err != nil {
				t.Fatalf("accepted object does not round-trip: %v", err)
			}
		}
	})
}
