package image_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

// BenchmarkPushPullBusybox pushes the busybox demo image to a fresh
// registry and pulls it into a fresh store (download, verify, unpack,
// syncfs), all on loopback.
func BenchmarkPushPullBusybox(b *testing.B) {
	img := busyboxImage(b)
	if _, err := img.Digest(); err != nil { // build the layer once, outside the loop
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		reg := startRegistry(b, b.TempDir())
		ref := fmt.Sprintf("%s/bench/busybox:%d", reg.host, i)
		push(b, img, ref)
		s := newStore(b, b.TempDir())
		if _, err := s.Pull(context.Background(), ref, image.PullIfNotPresent, nil); err != nil {
			b.Fatal(err)
		}
		reg.stop()
	}
}

// BenchmarkPullBusybox is the pull alone, from a registry that has it.
func BenchmarkPullBusybox(b *testing.B) {
	img := busyboxImage(b)
	reg := startRegistry(b, b.TempDir())
	ref := reg.host + "/bench/busybox:1"
	push(b, img, ref)
	for i := 0; i < b.N; i++ {
		s := newStore(b, b.TempDir())
		if _, err := s.Pull(context.Background(), ref, image.PullIfNotPresent, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnpackBusyboxLayer unpacks the busybox layer (gzip) from
// memory into a fresh directory.
func BenchmarkUnpackBusyboxLayer(b *testing.B) {
	img := busyboxImage(b)
	layers, err := img.Layers()
	if err != nil {
		b.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	size, _ := layers[0].Uncompressed()
	n, _ := io.Copy(io.Discard, size)
	b.SetBytes(n)
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(root, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if _, err := image.Unpack(bytes.NewReader(data), dir); err != nil {
			b.Fatal(err)
		}
	}
}
