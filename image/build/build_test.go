package build_test

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiff-sh/skiff/image/build"
	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/registry"
)

func startRegistry(t *testing.T) string {
	t.Helper()
	reg, err := registry.New(registry.Config{DataDir: t.TempDir()})
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(build.BusyboxPath); err != nil {
		t.Skipf("needs %s (Debian package busybox-static): %v", build.BusyboxPath, err)
	}
}

// pushPull pushes img and pulls it into a fresh store.
func pushPull(t *testing.T, host string, img v1.Image, ref string) image.Image {
	t.Helper()
	var lastDone, lastTotal int64
	d, err := build.Remote{}.Push(context.Background(), img, host+"/"+ref, func(done, total int64) {
		lastDone, lastTotal = done, total
	})
	if err != nil {
		t.Fatal(err)
	}
	if lastTotal == 0 || lastDone != lastTotal {
		t.Errorf("push progress ended at %d/%d", lastDone, lastTotal)
	}
	s, err := image.New(image.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(context.Background(), host+"/"+ref, image.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d.String() {
		t.Errorf("pulled %s, pushed %s", got.Digest, d)
	}
	return got
}

func TestBuildDirectory(t *testing.T) {
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "app", "static"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "app", "run"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "app", "static", "index.html"), []byte("<h1>x</h1>"), 0o644))
	must(t, os.Link(filepath.Join(src, "app", "run"), filepath.Join(src, "app", "run2")))
	must(t, os.Symlink("static/index.html", filepath.Join(src, "app", "index.html")))

	o := build.Options{Source: src, Entrypoint: []string{"/app/run"}, WorkingDir: "/app", ExposedPorts: []string{"80/tcp"}}
	img, err := build.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	// Same input, same digest: mtimes and owners do not leak in.
	must(t, os.Chtimes(filepath.Join(src, "app", "run"), time.Now(), time.Now().Add(-time.Hour)))
	again, err := build.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of one dir: %s, %s", d1, d2)
	}

	got := pushPull(t, startRegistry(t), img, "app:1")
	root := got.LayerDirs[0]
	if b, err := os.ReadFile(filepath.Join(root, "app", "run2")); err != nil || !strings.Contains(string(b), "echo hi") {
		t.Errorf("hard link: %q %v", b, err)
	}
	a, _ := os.Stat(filepath.Join(root, "app", "run"))
	b, _ := os.Stat(filepath.Join(root, "app", "run2"))
	if !os.SameFile(a, b) {
		t.Error("hard link became a copy")
	}
	if l, _ := os.Readlink(filepath.Join(root, "app", "index.html")); l != "static/index.html" {
		t.Errorf("symlink -> %q", l)
	}
	if got.Config.WorkingDir != "/app" || got.Config.Entrypoint[0] != "/app/run" || got.Config.Env[0] != build.DefaultPath {
		t.Errorf("config %+v", got.Config)
	}
}

func TestBuildBinary(t *testing.T) {
	needBusybox(t)
	img, err := build.Build(build.Options{Source: build.BusyboxPath, Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	got := pushPull(t, startRegistry(t), img, "bin/busybox:1")
	if got.Config.Entrypoint[0] != "/busybox" {
		t.Errorf("entrypoint %q", got.Config.Entrypoint)
	}
	if fi, err := os.Stat(filepath.Join(got.LayerDirs[0], "busybox")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("binary: %v %v", fi, err)
	}
}

func TestImportDockerSave(t *testing.T) {
	needBusybox(t)
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "busybox.tar")
	tag, _ := name.NewTag("busybox:saved")
	must(t, tarball.WriteToFile(file, tag, img))

	imported, err := build.Import(file)
	if err != nil {
		t.Fatal(err)
	}
	got := pushPull(t, startRegistry(t), imported, "imported:1")
	if _, err := os.Stat(filepath.Join(got.LayerDirs[0], "bin", "busybox")); err != nil {
		t.Error(err)
	}
	if got.Config.Entrypoint[0] != "/bin/httpd" {
		t.Errorf("config lost in import: %+v", got.Config)
	}
}

func TestImportOCILayout(t *testing.T) {
	needBusybox(t)
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	must(t, p.AppendImage(img, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"})))
	file := filepath.Join(t.TempDir(), "oci.tar")
	tarDir(t, dir, file)

	imported, err := build.Import(file)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, _ := imported.Digest(); d != want {
		t.Errorf("OCI import changed the digest: %s, want %s", d, want)
	}
	got := pushPull(t, startRegistry(t), imported, "oci:1")
	if got.Digest != want.String() {
		t.Errorf("pulled %s, want %s", got.Digest, want)
	}
}

func TestImportRejectsOtherFiles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.tar")
	must(t, os.WriteFile(file, []byte("not a tar"), 0o644))
	if _, err := build.Import(file); err == nil {
		t.Fatal("imported garbage")
	}
}

// TestBusyboxDemoServesHTTP runs the demo image's entrypoint chrooted into
// its pulled layer, on loopback, and fetches the page.
func TestBusyboxDemoServesHTTP(t *testing.T) {
	needBusybox(t)
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	got := pushPull(t, startRegistry(t), img, "busybox:demo")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	argv := got.Config.Apply(image.Overrides{}).Argv
	for i, a := range argv { // same command, loopback only
		if a == fmt.Sprint(build.DemoPort) {
			argv[i] = addr
		}
	}
	cmd := exec.Command("chroot", append([]string{got.LayerDirs[0]}, argv...)...)
	cmd.Env = got.Config.Env
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var body []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			continue
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		break
	}
	if !strings.Contains(string(body), "Hello from skiff") {
		t.Errorf("GET / = %q", body)
	}
}

func tarDir(t *testing.T, dir, file string) {
	t.Helper()
	f, err := os.Create(file)
	must(t, err)
	defer f.Close()
	tw := tar.NewWriter(f)
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, _ := d.Info()
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	}))
	must(t, tw.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
