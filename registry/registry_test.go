package registry_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/skiff-sh/skiff/nodeagent/image/build"
	"github.com/skiff-sh/skiff/registry"
)

// serve runs a registry on 127.0.0.1 until the returned stop is called.
func serve(t *testing.T, dataDir string) (host string, stop func()) {
	t.Helper()
	_, host, stop = start(t, registry.Config{DataDir: dataDir})
	return host, stop
}

// start runs a registry with cfg on 127.0.0.1 until stop is called (at
// the latest when the test ends).
func start(t *testing.T, cfg registry.Config) (reg *registry.Registry, host string, stop func()) {
	t.Helper()
	reg, err := registry.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return reg, ln.Addr().String(), stop
}

func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		t.Skipf("needs %s (busybox-static): %v", build.BusyboxPath, err)
	}
	return img
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func isStatus(err error, code int) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == code
}

func TestManifestsAndBlobsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	host, stop := serve(t, dir)
	img := testImage(t)
	if err := remote.Write(ref(t, host+"/lib/busybox:1"), img, remote.WithContext(context.Background())); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/lib/busybox:2"), img); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	if err := remote.WriteIndex(ref(t, host+"/lib/busybox:multi"), idx); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	if err := remote.Delete(ref(t, host+"/lib/busybox:2")); err != nil {
		t.Fatal(err)
	}
	stop()

	host, _ = serve(t, dir)
	got, err := remote.Image(ref(t, host+"/lib/busybox:1"))
	if err != nil {
		t.Fatalf("tag after restart: %v", err)
	}
	if d, _ := got.Digest(); d != digest {
		t.Errorf("digest %s, want %s", d, digest)
	}
	// Every blob comes back, byte for byte.
	layers, _ := got.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := v1.SHA256(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if _, err := got.ConfigFile(); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref(t, host+"/lib/busybox@"+digest.String())); err != nil {
		t.Errorf("by digest after restart: %v", err)
	}
	if _, err := remote.Index(ref(t, host+"/lib/busybox:multi")); err != nil {
		t.Errorf("index after restart: %v", err)
	}
	if _, err := remote.Image(ref(t, host+"/lib/busybox:2")); !isStatus(err, http.StatusNotFound) {
		t.Errorf("deleted tag after restart: %v, want 404", err)
	}
	tags, err := remote.List(ref(t, host+"/lib/busybox:1").Context())
	if err != nil || strings.Join(tags, ",") != "1,multi" {
		t.Errorf("tags %v %v", tags, err)
	}
	reg, _ := name.NewRegistry(host)
	repos, err := remote.Catalog(context.Background(), reg)
	if err != nil || strings.Join(repos, ",") != "lib/busybox" {
		t.Errorf("catalog %v %v", repos, err)
	}
}

func TestRefusesNamesThatAreNotNames(t *testing.T) {
	host, _ := serve(t, t.TempDir())
	for _, p := range []string{"/v2/UPPER/manifests/x", "/v2/a/../b/manifests/x", "/v2/a/manifests/..", "/v2/_refs/manifests/x"} {
		req, _ := http.NewRequest(http.MethodPut, "http://"+host+p, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", p, resp.StatusCode)
		}
	}
}

func TestRunNeedsDataDir(t *testing.T) {
	if _, err := registry.New(registry.Config{}); err == nil {
		t.Fatal("New without DataDir succeeded")
	}
}
