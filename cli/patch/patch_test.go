package patch

import (
	"encoding/json"
	"strings"
	"testing"
)

const deployment = `{"metadata":{"name":"web","labels":{"app":"web","tier":"front"},"finalizers":["a"]},
"spec":{"replicas":2,"template":{"spec":{"containers":[
 {"name":"nginx","image":"nginx:1.14","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
 {"name":"log","image":"busybox","args":["tail","-f"]}]}}}}`

// canon re-encodes JSON with sorted keys, for comparing.
func canon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name, patch string
		typ         Type
		want        string // a fragment of the canonical result, or the error
		wantErr     bool
	}{
		{"strategic merges containers by name", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.16"}]}}}}`, Strategic,
			`"containers":[{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"image":"nginx:1.16","name":"nginx","ports":[{"containerPort":80}]},{"args":["tail","-f"],"image":"busybox","name":"log"}]`, false},
		{"strategic adds a new container and env by name", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}]},{"name":"side","image":"x"}]}}}}`, Strategic,
			`"env":[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}]`, false},
		{"strategic deletes an element by $patch", `{"spec":{"template":{"spec":{"containers":[{"name":"log","$patch":"delete"}]}}}}`, Strategic,
			`"containers":[{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"image":"nginx:1.14","name":"nginx","ports":[{"containerPort":80}]}]`, false},
		{"strategic replaces lists without a merge key", `{"spec":{"template":{"spec":{"containers":[{"name":"log","args":["sleep","1"]}]}}}}`, Strategic,
			`"args":["sleep","1"]`, false},
		{"strategic null removes a key, finalizers merge as a set", "metadata:\n  labels: {tier: null}\n  finalizers: [a, b]\n", Strategic,
			`"metadata":{"finalizers":["a","b"],"labels":{"app":"web"},"name":"web"}`, false},
		{"merge patch replaces lists whole", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.16"}]}}}}`, Merge,
			`"containers":[{"image":"nginx:1.16","name":"nginx"}]`, false},
		{"json patch replace, add at the end, remove", `[{"op":"replace","path":"/spec/replicas","value":5},{"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"Z","value":"9"}},{"op":"remove","path":"/metadata/labels/tier"},{"op":"test","path":"/metadata/name","value":"web"}]`, JSON,
			`"replicas":5`, false},
		{"json patch copy and move", `[{"op":"copy","from":"/metadata/labels/app","path":"/metadata/labels/copied"},{"op":"move","from":"/metadata/labels/tier","path":"/metadata/labels/moved"}]`, JSON,
			`"labels":{"app":"web","copied":"web","moved":"front"}`, false},
		{"json patch test fails", `[{"op":"test","path":"/spec/replicas","value":3}]`, JSON, "test failed", true},
		{"json patch replace of nothing", `[{"op":"replace","path":"/spec/paused","value":true}]`, JSON, `no "paused" there`, true},
		{"json patch index out of range", `[{"op":"remove","path":"/spec/template/spec/containers/7"}]`, JSON, "out of range", true},
		{"json patch not a list", `{"op":"add"}`, JSON, "a list of operations", true},
		{"strategic element without its key", `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`, Strategic, "no name to merge it by", true},
		{"unknown type", `{}`, "apply", "--type", true},
		{"not JSON", `{"spec": [`, Strategic, "not JSON or YAML", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Apply([]byte(deployment), []byte(tc.patch), tc.typ)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want one with %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := canon(t, string(out)); !strings.Contains(got, tc.want) {
				t.Errorf("result lacks %s:\n%s", tc.want, got)
			}
		})
	}
}
