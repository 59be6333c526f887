package image_test

import (
	"context"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

// TestPullThroughMirror: an image named for one registry is found at its
// mirror first (by the rewritten name `skiff image build` gives it there)
// and kept under its own name; one the mirror lacks comes from the origin.
func TestPullThroughMirror(t *testing.T) {
	mirror := startRegistry(t, t.TempDir())
	origin := startRegistry(t, t.TempDir())
	img := busyboxImage(t)
	push(t, img, mirror.host+"/busybox:1.28")
	push(t, img, origin.host+"/library/only-at-origin:1")

	s, err := image.New(image.Config{Root: t.TempDir(), Registries: image.Registries{Mirrors: map[string]image.Mirror{
		origin.host: {Endpoints: []string{"http://" + mirror.host}, Rewrites: map[string]string{"^library/(.*)": "$1"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := s.Pull(ctx, origin.host+"/library/busybox:1.28", image.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref != origin.host+"/library/busybox:1.28" {
		t.Errorf("stored as %q, want the name the pod gave", got.Ref)
	}
	if n := origin.count("/v2/library/busybox/"); n != 0 {
		t.Errorf("the origin was asked %d times for what the mirror has", n)
	}
	if n := mirror.count("/v2/busybox/manifests/1.28"); n == 0 {
		t.Error("the mirror was not asked")
	}

	if _, err := s.Pull(ctx, origin.host+"/library/only-at-origin:1", image.PullIfNotPresent, nil); err != nil {
		t.Fatalf("falling back to the origin: %v", err)
	}
	_, err = s.Pull(ctx, origin.host+"/library/nowhere:1", image.PullIfNotPresent, nil)
	if err == nil || !strings.Contains(err.Error(), mirror.host) || !strings.Contains(err.Error(), origin.host) {
		t.Errorf("an image neither has: the error %v does not name both places tried", err)
	}
}
