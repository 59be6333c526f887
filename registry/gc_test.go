package registry_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/skiff-sh/skiff/registry"
)

func serveWith(t *testing.T, cfg registry.Config) (*registry.Registry, string) {
	t.Helper()
	reg, host, _ := start(t, cfg)
	return reg, host
}

func blobFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		out["sha256:"+e.Name()] = true
	}
	return out
}

func digests(t *testing.T, img v1.Image) (manifest, config v1.Hash, layers []v1.Hash) {
	t.Helper()
	manifest, _ = img.Digest()
	config, _ = img.ConfigName()
	ls, _ := img.Layers()
	for _, l := range ls {
		d, _ := l.Digest()
		layers = append(layers, d)
	}
	return manifest, config, layers
}

// Deleting an image's last tag removes its manifest and the blobs no other
// image uses; a blob another image shares stays, and that image still
// pulls whole.
func TestDeleteCollectsUnreferencedBlobs(t *testing.T) {
	dir := t.TempDir()
	// A tiny delay: everything is old enough by the time a delete runs.
	_, host := serveWith(t, registry.Config{DataDir: dir, GCDelay: time.Nanosecond})
	a, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	extra, _ := random.Layer(256, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	b, err := mutate.AppendLayers(a, extra)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/a:1"), a); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/b:1"), b); err != nil {
		t.Fatal(err)
	}
	am, ac, al := digests(t, a)
	bm, bc, bl := digests(t, b)
	if err := remote.Delete(ref(t, host+"/a:1")); err != nil {
		t.Fatal(err)
	}
	left := blobFiles(t, dir)
	for _, gone := range []v1.Hash{am, ac} {
		if left[gone.String()] {
			t.Errorf("%s of the deleted image is still stored", gone)
		}
	}
	for _, kept := range append([]v1.Hash{bm, bc}, append(al, bl...)...) {
		if !left[kept.String()] {
			t.Errorf("%s, still used by b:1, was collected", kept)
		}
	}
	got, err := remote.Image(ref(t, host+"/b:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("b:1 after a's deletion: %v", err)
	}
	if _, err := remote.Image(ref(t, host+"/a@"+am.String())); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("a's untagged manifest by digest: %v, want 404", err)
	}
}

// A push uploads blobs before the manifest that references them. Garbage
// collection in between keeps them (they are younger than the GC delay),
// so the push completes; and a manifest whose blobs were collected is
// refused rather than stored as an image nobody can pull.
func TestCollectionSparesAPushInFlight(t *testing.T) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	upload := func(host string) {
		t.Helper()
		repo := ref(t, host+"/app:1").Context()
		for _, l := range layers {
			if err := remote.WriteLayer(repo, l); err != nil {
				t.Fatal(err)
			}
		}
		cfg, _ := img.RawConfigFile()
		cfgLayer := static.NewLayer(cfg, types.DockerConfigJSON)
		if err := remote.WriteLayer(repo, cfgLayer); err != nil {
			t.Fatal(err)
		}
	}

	reg, host := serveWith(t, registry.Config{DataDir: t.TempDir()}) // the default delay
	upload(host)
	if n, err := reg.CollectGarbage(); err != nil || n != 0 {
		t.Fatalf("collection during a push removed %d (%v)", n, err)
	}
	if err := remote.Write(ref(t, host+"/app:1"), img); err != nil {
		t.Fatalf("the push after a collection: %v", err)
	}

	reg, host = serveWith(t, registry.Config{DataDir: t.TempDir(), GCDelay: time.Nanosecond})
	upload(host)
	if n, err := reg.CollectGarbage(); err != nil || n == 0 {
		t.Fatalf("old unreferenced blobs were kept: %d %v", n, err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	req, _ := http.NewRequest(http.MethodPut, "http://"+host+"/v2/app/manifests/1", bytes.NewReader(raw))
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a manifest whose blobs are gone: %d, want 400 MANIFEST_BLOB_UNKNOWN", resp.StatusCode)
	}
}
