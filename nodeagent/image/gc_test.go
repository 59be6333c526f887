package image_test

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

func TestGCRemovesLeastRecentlyUsedUnusedImages(t *testing.T) {
	reg := startRegistry(t, t.TempDir())
	root := t.TempDir()
	s := newStore(t, root)
	ctx := context.Background()
	refs := map[string]string{}
	pulled := map[string]image.Image{}
	for _, n := range []string{"a", "b", "c"} {
		layer := makeTar(t, tarEntry{name: n, typ: tar.TypeReg, body: fmt.Sprintf("%s%0200d", n, 0)})
		refs[n] = reg.host + "/gc/" + n + ":1"
		push(t, imageOf(t, types.OCILayer, gzipBytes(t, layer)), refs[n])
		img, err := s.Pull(ctx, refs[n], image.PullIfNotPresent, nil)
		if err != nil {
			t.Fatal(err)
		}
		pulled[n] = img
	}
	// Using a makes it the most recent: least recent first is now b, c, a.
	if _, err := s.Pull(ctx, refs["a"], image.PullIfNotPresent, nil); err != nil {
		t.Fatal(err)
	}

	// Nothing to do under the threshold.
	if res, err := s.GC(nil, s.Usage()); err != nil || len(res.Removed) != 0 {
		t.Fatalf("GC under threshold: %+v %v", res, err)
	}
	// Just above it: b is oldest but in use, so c goes.
	res, err := s.GC([]string{refs["b"]}, s.Usage()-1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []string{refs["c"]}) || res.Freed <= 0 {
		t.Fatalf("GC removed %v (freed %d), want [%s]", res.Removed, res.Freed, refs["c"])
	}
	if _, err := os.Stat(pulled["c"].LayerDirs[0]); !os.IsNotExist(err) {
		t.Errorf("c's layer still on disk: %v", err)
	}
	// Down to zero: everything but the in-use image (named by digest this
	// time) goes, and the store says it is still above the threshold.
	res, err = s.GC([]string{pulled["b"].Digest}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []string{refs["a"]}) || res.Usage == 0 {
		t.Fatalf("GC to zero: %+v", res)
	}
	if l := s.List(); len(l) != 1 || l[0].Ref != refs["b"] {
		t.Errorf("left %+v, want only b", l)
	}
	if _, err := os.Stat(pulled["b"].LayerDirs[0]); err != nil {
		t.Errorf("in-use layer removed: %v", err)
	}
	// What GC keeps survives a restart, and GC's work too.
	if l := newStore(t, root).List(); len(l) != 1 || l[0].Ref != refs["b"] {
		t.Errorf("after restart %+v", l)
	}
}

func TestPullZstdLayers(t *testing.T) {
	reg := startRegistry(t, t.TempDir())
	ref := reg.host + "/zstd/app:1"
	bottom := makeTar(t, tarEntry{name: "etc/", typ: tar.TypeDir}, tarEntry{name: "etc/hostname", typ: tar.TypeReg, body: "old"})
	top := makeTar(t, tarEntry{name: "etc/.wh.hostname", typ: tar.TypeReg}, tarEntry{name: "etc/motd", typ: tar.TypeReg, body: "zstd"})
	push(t, imageOf(t, types.OCILayerZStd, zstdBytes(t, bottom), zstdBytes(t, top)), ref)

	img, err := newStore(t, t.TempDir()).Pull(context.Background(), ref, image.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.LayerDirs) != 2 {
		t.Fatalf("layer dirs %v", img.LayerDirs)
	}
	// Top first.
	if b, err := os.ReadFile(img.LayerDirs[0] + "/etc/motd"); err != nil || string(b) != "zstd" {
		t.Errorf("top layer: %q %v", b, err)
	}
	if b, err := os.ReadFile(img.LayerDirs[1] + "/etc/hostname"); err != nil || string(b) != "old" {
		t.Errorf("bottom layer: %q %v", b, err)
	}
}
