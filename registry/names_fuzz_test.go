package registry

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzNames feeds arbitrary request paths to the registry's own parsing of
// repository names, tags, digests and upload IDs. Whatever it accepts must
// become a path inside its data directory that reads back as the same
// name, since these names are the only thing between a client and the
// server's disk.
func FuzzNames(f *testing.F) {
	for _, p := range []string{
		"/v2/demo/manifests/latest",
		"/v2/library/busybox/manifests/sha256:" + strings.Repeat("ab", 32),
		"/v2/a/b/c/manifests/v1.2_3-x",
		"/v2/../manifests/x", "/v2/a/../../manifests/latest", "/v2/a/manifests/..",
		"/v2/a/_refs/manifests/x", "/v2/a//b/manifests/x", "/v2/A/manifests/x",
		"/v2/a/manifests/.tmp-1", "/v2/./manifests/x", "/v2/a__b/manifests/-x",
		"/v2/demo/blobs/uploads/" + strings.Repeat("0f", 16), "/v2/demo/blobs/uploads/",
		"/v2/../blobs/uploads/" + strings.Repeat("0f", 16), "/v2/demo/blobs/uploads/../../x",
	} {
		f.Add(p)
	}
	r := &Registry{dataDir: "/data"}
	u := &uploads{dir: "/data/tmp/uploads"}
	f.Fuzz(func(t *testing.T, p string) {
		if repo, target, ok := manifestPath(p); ok && validRepo(repo) && validTarget(target) {
			file := r.refFile(repo, target)
			root := filepath.Join(r.dataDir, "manifests")
			checkInside(t, p, root, file)
			// Read back the way loadRefs does.
			rel, err := filepath.Rel(root, filepath.Dir(filepath.Dir(file)))
			if err != nil || filepath.ToSlash(rel) != repo || filepath.Base(file) != target ||
				filepath.Base(filepath.Dir(file)) != refsDir || strings.HasPrefix(target, ".tmp-") {
				t.Fatalf("%q: %q:%q is stored as %s, read back as %q:%q", p, repo, target, file, rel, filepath.Base(file))
			}
			if r2, t2, ok := manifestPath("/v2/" + repo + "/manifests/" + target); !ok || r2 != repo || t2 != target {
				t.Fatalf("%q: %q:%q does not parse back from its own path: %q %q %v", p, repo, target, r2, t2, ok)
			}
		}
		if repo, id, ok := uploadPath(p); ok && validRepo(repo) && uploadID.MatchString(id) {
			checkInside(t, p, u.dir, u.file(id))
			if r2, id2, ok := uploadPath(u.location(repo, id)); !ok || r2 != repo || id2 != id {
				t.Fatalf("%q: upload location of %q %q parses as %q %q %v", p, repo, id, r2, id2, ok)
			}
		}
	})
}

// checkInside fails unless file is a clean path strictly below dir.
func checkInside(t *testing.T, p, dir, file string) {
	t.Helper()
	rel, err := filepath.Rel(dir, file)
	if err != nil || filepath.Clean(file) != file || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		t.Fatalf("%q maps to %s, not a path below %s", p, file, dir)
	}
}
