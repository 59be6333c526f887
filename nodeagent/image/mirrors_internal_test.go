package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestMirrorSources(t *testing.T) {
	regs := Registries{Mirrors: map[string]Mirror{
		"docker.io": {Endpoints: []string{"https://10.0.0.1:5000", "http://mirror.local:5000"}, Rewrites: map[string]string{"^library/(.*)": "$1"}},
		"*":         {Endpoints: []string{"10.0.0.9:5000"}},
	}}
	for ref, want := range map[string][]string{
		// A Docker Hub name: the cluster registry holds it by its short name.
		"busybox:1.28": {"10.0.0.1:5000/busybox:1.28", "mirror.local:5000/busybox:1.28", "index.docker.io/library/busybox:1.28"},
		"team/app:2":   {"10.0.0.1:5000/team/app:2", "mirror.local:5000/team/app:2", "index.docker.io/team/app:2"},
		// Every other registry goes through "*"; digests stay digests.
		"quay.io/x/y@sha256:" + strings.Repeat("a", 64): {"10.0.0.9:5000/x/y@sha256:" + strings.Repeat("a", 64), "quay.io/x/y@sha256:" + strings.Repeat("a", 64)},
	} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		srcs, err := regs.sources(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range srcs {
			got = append(got, s.Name())
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: sources %v, want %v", ref, got, want)
		}
	}
	if got := regs.PlainHTTPHosts(); len(got) != 1 || got[0] != "mirror.local:5000" {
		t.Errorf("plain HTTP hosts %v", got)
	}
	r, _ := name.ParseReference("quay.io/x/y:1")
	if srcs, _ := (Registries{}).sources(r, nil); len(srcs) != 1 || srcs[0] != r {
		t.Errorf("no mirrors: sources %v", srcs)
	}
}

func TestLoadRegistries(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "registries.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r, err := LoadRegistries(write("mirrors:\n  docker.io:\n    endpoint: [\"https://10.0.0.1:5000\"]\n    rewrite: {\"^library/(.*)\": \"$1\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m := r.Mirrors["docker.io"]; len(m.Endpoints) != 1 || m.Rewrites["^library/(.*)"] != "$1" {
		t.Errorf("loaded %+v", r)
	}
	for body, want := range map[string]string{
		"mirrors:\n  docker.io:\n    endpoints: [\"https://x\"]\n": `unknown field "endpoints"`,
		"mirrors:\n  docker.io:\n    endpoint: [\"ftp://x\"]\n":    "mirrors.docker.io.endpoint[0]",
		"mirrors:\n  docker.io:\n    rewrite: {\"(\": \"x\"}\n":    `mirrors.docker.io.rewrite "("`,
	} {
		if _, err := LoadRegistries(write(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}

func TestWithMirrors(t *testing.T) {
	base := Registries{Mirrors: map[string]Mirror{"docker.io": {Endpoints: []string{"https://hub-cache:5000"}}}}
	r := base.WithMirrors([]string{"docker.io", "quay.io"}, "https://10.88.0.1:5000")
	if got := r.Mirrors["docker.io"].Endpoints; len(got) != 2 || got[0] != "https://10.88.0.1:5000" || got[1] != "https://hub-cache:5000" {
		t.Errorf("docker.io endpoints %v: the cluster registry comes first, the file's after", got)
	}
	if r.Mirrors["docker.io"].Rewrites["^library/(.*)"] != "$1" || len(r.Mirrors["quay.io"].Rewrites) != 0 {
		t.Errorf("rewrites %v", r.Mirrors)
	}
	if len(base.Mirrors["docker.io"].Endpoints) != 1 {
		t.Error("WithMirrors changed its receiver")
	}
}
