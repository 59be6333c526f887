package cli

import (
	"strings"
	"testing"
)

// cp's arguments: [NAMESPACE/]POD:PATH is in a pod, anything else (a path
// starting with / or ., or with no colon) is local.
func TestParseCpArg(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want cpPath
	}{
		{"web:/etc/nginx", cpPath{ns: "default", pod: "web", path: "/etc/nginx"}},
		{"team/db:/var/lib/data", cpPath{ns: "team", pod: "db", path: "/var/lib/data"}},
		{"./a:b", cpPath{path: "./a:b"}},
		{"/tmp/x:y", cpPath{path: "/tmp/x:y"}},
		{"local.txt", cpPath{path: "local.txt"}},
		{"a/b/c:d", cpPath{path: "a/b/c:d"}},
	} {
		if got := parseCpArg(tc.arg, "default"); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.arg, got, tc.want)
		}
	}
	r := newRunner(t)
	for _, tc := range []struct{ args, want string }{
		{"cp a b", "one side must be POD:PATH"},
		{"cp web:/a db:/b", "one side is POD:PATH"},
		{"cp web:/ out", "give a file or directory below /"},
		{"cp /nonexistent-skiff-src web:/tmp/x", "no such file"},
	} {
		res := r.run(strings.Fields(tc.args)...)
		if res.e == nil || !strings.Contains(res.err, tc.want) {
			t.Errorf("skiff %s: %+v, want an error with %q", tc.args, res, tc.want)
		}
	}
}
