package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/skiff-sh/skiff/image/build"
	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/registry"
)

// testRegistry is a real registry on 127.0.0.1 that counts requests.
type testRegistry struct {
	host string
	stop func()

	mu   sync.Mutex
	gets map[string]int // "GET /v2/..." path -> count
	// basic, when set ("user:password"), is what reads need, as a
	// private registry's basic auth.
	basic string
}

// requireBasicAuth makes reads need user and password from now on.
func (r *testRegistry) requireBasicAuth(user, password string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.basic = user + ":" + password
}

func (r *testRegistry) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for p, c := range r.gets {
		if strings.Contains(p, substr) {
			n += c
		}
	}
	return n
}

func startRegistry(t testing.TB, dataDir string) *testRegistry {
	t.Helper()
	reg, err := registry.New(registry.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &testRegistry{host: ln.Addr().String(), gets: map[string]int{}}
	counted := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		tr.mu.Lock()
		if req.Method == http.MethodGet {
			tr.gets[req.URL.Path]++
		}
		want := tr.basic
		tr.mu.Unlock()
		if user, password, _ := req.BasicAuth(); want != "" && user+":"+password != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, req)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		srv := &http.Server{Handler: counted}
		go func() { <-ctx.Done(); srv.Close() }()
		done <- srv.Serve(ln)
	}()
	var once sync.Once
	tr.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("registry: %v", err)
			}
		})
	}
	t.Cleanup(tr.stop)
	return tr
}

func busyboxImage(t testing.TB) v1.Image {
	t.Helper()
	if _, err := os.Stat(build.BusyboxPath); err != nil {
		t.Skipf("needs %s (Debian package busybox-static): %v", build.BusyboxPath, err)
	}
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func push(t testing.TB, img v1.Image, ref string) v1.Hash {
	t.Helper()
	d, err := build.Remote{}.Push(context.Background(), img, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newStore(t testing.TB, root string) *image.Store {
	t.Helper()
	s, err := image.New(image.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tarEntry describes one entry of a hand-made layer.
type tarEntry struct {
	name     string
	typ      byte
	body     string
	linkname string
	major    int64
	minor    int64
	mode     int64
}

func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if e.typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: mode,
			Devmajor: e.major, Devminor: e.minor, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// imageOf stacks hand-made compressed layers into an OCI image.
func imageOf(t testing.TB, mt types.MediaType, layers ...[]byte) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range layers {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(l)), nil
		}, tarball.WithMediaType(mt))
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.AppendLayers(img, layer)
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
