package manifest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func namespaceDoc(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + "}\n"
}

func names(objs []Object) string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Name())
	}
	return strings.Join(out, ",")
}

// A directory's subdirectories are read with Recursive only, as kubectl's -R.
func TestReadRecursive(t *testing.T) {
	dir := t.TempDir()
	for path, body := range map[string]string{
		"a.yaml":           namespaceDoc("a"),
		"sub/b.yaml":       namespaceDoc("b"),
		"sub/deep/c.json":  `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}`,
		"sub/notes.txt":    "not a manifest",
		"only/below/d.yml": namespaceDoc("d"),
	} {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	objs, err := Read(ctx, Sources{Paths: []string{dir}})
	if err != nil || names(objs) != "a" {
		t.Errorf("without Recursive: %s, %v; want a alone", names(objs), err)
	}
	objs, err = Read(ctx, Sources{Paths: []string{dir}, Recursive: true})
	if err != nil || names(objs) != "a,d,b,c" {
		t.Errorf("Recursive: %s, %v; want a,d,b,c (by path)", names(objs), err)
	}
	_, err = Read(ctx, Sources{Paths: []string{filepath.Join(dir, "only")}})
	if err == nil || !strings.Contains(err.Error(), "-R reads its subdirectories too") {
		t.Errorf("a directory with manifests only below: %v; want a hint at -R", err)
	}
}

// An http(s) path is fetched; an answer other than 2xx, or one too big to
// be a manifest, is an error naming the URL.
func TestReadURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ns.yaml":
			w.Write([]byte(namespaceDoc("web") + "---\n" + namespaceDoc("db")))
		case "/huge.yaml":
			chunk := []byte(strings.Repeat("#", 1<<20) + "\n")
			for range maxFetched>>20 + 1 {
				w.Write(chunk)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	objs, err := Read(ctx, Sources{Paths: []string{srv.URL + "/ns.yaml"}})
	if err != nil || names(objs) != "web,db" {
		t.Fatalf("fetched: %s, %v; want web,db", names(objs), err)
	}
	if objs[0].File != srv.URL+"/ns.yaml" {
		t.Errorf("the objects' file is %q, want the URL", objs[0].File)
	}
	_, err = Read(ctx, Sources{Paths: []string{srv.URL + "/missing.yaml"}})
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/missing.yaml: GET answered 404") {
		t.Errorf("a 404: %v", err)
	}
	_, err = Read(ctx, Sources{Paths: []string{srv.URL + "/huge.yaml"}})
	if err == nil || !strings.Contains(err.Error(), "not a manifest") {
		t.Errorf("an answer over the limit: %v", err)
	}
}
