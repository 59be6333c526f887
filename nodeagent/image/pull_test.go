package image_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

func TestPullBusyboxSurvivesRegistryRestart(t *testing.T) {
	img := busyboxImage(t)
	regDir := t.TempDir()
	reg := startRegistry(t, regDir)
	ref := reg.host + "/demo/busybox:1"
	want := push(t, img, ref)

	s := newStore(t, t.TempDir())
	var mu sync.Mutex
	var last image.Progress
	got, err := s.Pull(context.Background(), ref, image.PullIfNotPresent, func(p image.Progress) {
		mu.Lock()
		defer mu.Unlock()
		last = p
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want.String() {
		t.Errorf("digest %s, pushed %s", got.Digest, want)
	}
	if last.Total == 0 || last.Done != last.Total {
		t.Errorf("last progress %+v, want done == total > 0", last)
	}
	checkBusybox(t, got)

	// The registry comes back on the same data dir with everything.
	reg.stop()
	reg2 := startRegistry(t, regDir)
	ref2 := reg2.host + "/demo/busybox:1"
	s2 := newStore(t, t.TempDir())
	got2, err := s2.Pull(context.Background(), ref2, image.PullAlways, nil)
	if err != nil {
		t.Fatalf("pull after registry restart: %v", err)
	}
	if got2.Digest != want.String() {
		t.Errorf("after restart digest %s, want %s", got2.Digest, want)
	}
	checkBusybox(t, got2)
}

func checkBusybox(t *testing.T, img image.Image) {
	t.Helper()
	if len(img.LayerDirs) != 1 {
		t.Fatalf("layer dirs %v, want 1", img.LayerDirs)
	}
	root := img.LayerDirs[0]
	fi, err := os.Stat(filepath.Join(root, "bin", "busybox"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("bin/busybox: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(root, "bin", "sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp not sticky: %v %v", fi, err)
	}
	if img.Config.Entrypoint[0] != "/bin/httpd" || img.Config.ExposedPorts[0] != "8080/tcp" {
		t.Errorf("config %+v", img.Config)
	}
}

func TestStoreSurvivesRestartAndNeverPolicy(t *testing.T) {
	img := busyboxImage(t)
	reg := startRegistry(t, t.TempDir())
	ref := reg.host + "/busybox:latest"
	push(t, img, ref)
	root := t.TempDir()
	s := newStore(t, root)

	_, err := s.Pull(context.Background(), ref, image.PullNever, nil)
	if !errors.Is(err, image.ErrNotPresent) {
		t.Fatalf("Never on an absent image: %v, want ErrNotPresent", err)
	}
	pulled, err := s.Pull(context.Background(), ref, image.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.stop() // from here on, nothing may need the network

	s2 := newStore(t, root)
	got, err := s2.Pull(context.Background(), ref, image.PullNever, nil)
	if err != nil {
		t.Fatalf("Never after store restart: %v", err)
	}
	if got.Digest != pulled.Digest || got.LayerDirs[0] != pulled.LayerDirs[0] {
		t.Errorf("after restart %+v, before %+v", got, pulled)
	}
	if _, err := s2.Pull(context.Background(), ref, image.PullIfNotPresent, nil); err != nil {
		t.Errorf("IfNotPresent with the image present and the registry down: %v", err)
	}
	if l := s2.List(); len(l) != 1 || l[0].Ref != ref {
		t.Errorf("List = %+v", l)
	}
	if err := s2.Remove(ref); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pulled.LayerDirs[0]); !os.IsNotExist(err) {
		t.Errorf("layer dir still there after Remove: %v", err)
	}
	if s2.Usage() != 0 {
		t.Errorf("usage %d after removing the only image", s2.Usage())
	}
}

func TestConcurrentPullsFetchOnce(t *testing.T) {
	img := busyboxImage(t)
	reg := startRegistry(t, t.TempDir())
	ref := reg.host + "/busybox:latest"
	push(t, img, ref)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	before := reg.count("/blobs/" + ld.String())

	s := newStore(t, t.TempDir())
	const n = 8
	var wg sync.WaitGroup
	var progressCalls sync.Map
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Pull(context.Background(), ref, image.PullAlways, func(image.Progress) {
				progressCalls.Store(i, true)
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := reg.count("/blobs/"+ld.String()) - before; got != 1 {
		t.Errorf("layer fetched %d times by %d concurrent pulls, want 1", got, n)
	}
	if got := reg.count("/manifests/"); got > n {
		t.Errorf("%d manifest GETs", got)
	}
	// A later Always pull asks for the manifest but fetches no layer.
	if _, err := s.Pull(context.Background(), ref, image.PullAlways, nil); err != nil {
		t.Fatal(err)
	}
	if got := reg.count("/blobs/"+ld.String()) - before; got != 1 {
		t.Errorf("Always re-fetched an unchanged layer (%d fetches)", got)
	}
}

func TestTransportAllowsPlainHTTPOnlyToLoopbackAndInsecure(t *testing.T) {
	var sent []string
	// The base records instead of dialling: only the guard's decision is
	// under test, and no packet leaves loopback.
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.URL.String())
		return nil, errors.New("not dialled")
	})
	tr := image.Transport(base, []string{"registry.lan:5000", "10.0.0.9"})
	for url, allowed := range map[string]bool{
		"http://127.0.0.1:5000/v2/":    true,
		"http://localhost:5000/v2/":    true,
		"http://[::1]:5000/v2/":        true,
		"http://10.255.255.1:5000/v2/": false, // RFC 1918: go-containerregistry would allow it
		"http://printer.local/v2/":     false,
		"http://registry.lan:5000/v2/": true,
		"http://registry.lan:6000/v2/": false,
		"http://10.0.0.9:5000/v2/":     true,
		"https://10.255.255.1/v2/":     true,
	} {
		sent = nil
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.RoundTrip(req)
		if got := len(sent) == 1; got != allowed {
			t.Errorf("%s: sent=%v, want %v (err %v)", url, got, allowed, err)
		}
		if !allowed && (err == nil || !strings.Contains(err.Error(), "refusing plain HTTP")) {
			t.Errorf("%s: error %v, want a refusal", url, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
