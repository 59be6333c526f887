package qemu

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// KernelPackage is Debian's metapackage whose dependency names the current
// cloud kernel: small, with virtio and cgroup v2 built in.
const KernelPackage = "linux-image-cloud-amd64"

// Modules are the kernel modules every guest loads, by name; the cache
// keeps them with every module they depend on. The container runtime
// needs overlayfs; the loop driver makes /dev/loop0 a real block device
// for the device-control probes; virtio-net is the guest's network card;
// a node's pod network is a bridge with veths, and its service proxy,
// masquerade and host ports are nftables tables.
var Modules = []string{
	"overlay", "loop",
	"virtio_pci", "virtio_net",
	"bridge", "veth",
	"nf_tables", "nft_chain_nat", "nft_nat", "nft_masq", "nft_numgen", "nft_fib_ipv4", "nft_ct",
}

// Kernel is an unpacked guest kernel.
type Kernel struct {
	Version string   // e.g. 6.1.0-57-cloud-amd64
	Image   string   // the vmlinuz file
	Modules []string // .ko files of Modules and their dependencies, in load order
}

// orderFile lists a cached kernel's modules in load order, one file name
// a line.
const orderFile = "modules.order"

// FetchKernel returns the cloud kernel of the host's apt sources, unpacked
// under cacheDir/kernel-<version>. The first call downloads the package
// with `apt-get download` (no install) and keeps only the image and the
// modules a guest loads; later calls reuse the cache and reach no mirror.
func FetchKernel(cacheDir string) (*Kernel, error) {
	pkg, err := kernelPackageName()
	if err != nil {
		return nil, err
	}
	version := strings.TrimPrefix(pkg, "linux-image-")
	dir := filepath.Join(cacheDir, "kernel-"+version)
	if k, err := cachedKernel(dir, version); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cacheDir, "download-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// apt-get drops to the _apt user for the download; a directory it may
	// write to spares the warning and the fallback.
	os.Chmod(tmp, 0o777)
	cmd := exec.Command("apt-get", "download", "-q", pkg)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu: apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("qemu: apt-get download %s left %d .deb files", pkg, len(debs))
	}
	all := filepath.Join(tmp, "all")
	stage := filepath.Join(tmp, "kernel")
	for _, d := range []string{all, filepath.Join(stage, "modules")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// Every module first (the package's ~90 MB, in the temporary
	// directory): what a module depends on is only known from its own
	// .modinfo.
	image := "./boot/vmlinuz-" + version
	modPrefix := "./lib/modules/" + version + "/kernel/"
	err = extractDeb(debs[0], func(name string) string {
		if name == image {
			return filepath.Join(stage, "vmlinuz")
		}
		if strings.HasPrefix(name, modPrefix) && strings.HasSuffix(name, ".ko") {
			return filepath.Join(all, filepath.Base(name))
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(stage, "vmlinuz")); err != nil {
		return nil, fmt.Errorf("qemu: %s has no %s", debs[0], image)
	}
	order, err := LoadOrder(all, Modules)
	if err != nil {
		return nil, err
	}
	for _, name := range order {
		if err := os.Rename(filepath.Join(all, name+".ko"), filepath.Join(stage, "modules", name+".ko")); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(stage, orderFile), []byte(strings.Join(order, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(stage, dir); err != nil {
		return nil, err
	}
	// Kernels the archive has moved on from are not booted again.
	old, _ := filepath.Glob(filepath.Join(cacheDir, "kernel-*"))
	for _, o := range old {
		if o != dir {
			os.RemoveAll(o)
		}
	}
	return cachedKernel(dir, version)
}

// CachedKernel returns a complete kernel already in cacheDir (FetchKernel
// keeps one) without asking apt which version is current: a cluster's
// nodes boot without apt's index being read, which takes seconds.
func CachedKernel(cacheDir string) (*Kernel, error) {
	dirs, _ := filepath.Glob(filepath.Join(cacheDir, "kernel-*"))
	for i := len(dirs) - 1; i >= 0; i-- {
		if k, err := cachedKernel(dirs[i], strings.TrimPrefix(filepath.Base(dirs[i]), "kernel-")); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("qemu: no complete kernel cached in %s", cacheDir)
}

// cachedKernel reads an unpacked kernel; an error means the cache is
// incomplete or from an older list of Modules.
func cachedKernel(dir, version string) (*Kernel, error) {
	k := &Kernel{Version: version, Image: filepath.Join(dir, "vmlinuz")}
	data, err := os.ReadFile(filepath.Join(dir, orderFile))
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, name := range strings.Fields(string(data)) {
		have[name] = true
		k.Modules = append(k.Modules, filepath.Join(dir, "modules", name+".ko"))
	}
	for _, m := range Modules {
		if !have[m] {
			return nil, fmt.Errorf("qemu: cached kernel in %s lacks module %s", dir, m)
		}
	}
	for _, f := range append([]string{k.Image}, k.Modules...) {
		if _, err := os.Stat(f); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// LoadOrder returns roots and every module they depend on (the modules
// are dir/NAME.ko), each after its dependencies: the order insmod needs.
func LoadOrder(dir string, roots []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("qemu: modules depend on each other in a circle at %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		deps, err := moduleDepends(filepath.Join(dir, name+".ko"))
		if err != nil {
			if from != "" {
				return fmt.Errorf("qemu: module %s (needed by %s): %w", name, from, err)
			}
			return fmt.Errorf("qemu: module %s: %w", name, err)
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, r := range roots {
		if err := visit(r, ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleDepends reads the "depends=" entry of a module's .modinfo
// section (what depmod reads).
func moduleDepends(ko string) ([]string, error) {
	f, err := elf.Open(ko)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, errors.New("no .modinfo section")
	}
	data, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var out []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					// Module names use - and _ alike; files use _.
					out = append(out, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return out, nil
		}
	}
	return nil, nil
}

// kernelPackageName resolves KernelPackage to the versioned package it
// depends on, from the local apt cache (no network).
func kernelPackageName() (string, error) {
	out, err := exec.Command("apt-cache", "depends", KernelPackage).Output()
	if err != nil {
		return "", fmt.Errorf("qemu: apt-cache depends %s: %w", KernelPackage, err)
	}
	m := regexp.MustCompile(`Depends: (linux-image-[0-9][^\s]*-cloud-amd64)`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("qemu: apt-cache depends %s names no versioned kernel:\n%s", KernelPackage, out)
	}
	return string(m[1]), nil
}

// extractDeb writes each regular file of deb's data archive for which
// dest returns a path to that path, reading the archive through dpkg-deb.
func extractDeb(deb string, dest func(name string) string) error {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	tr := tar.NewReader(out)
	var walkErr error
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			walkErr = err
			break
		}
		dst := dest(h.Name)
		if dst == "" || h.Typeflag != tar.TypeReg {
			continue
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			walkErr = err
			break
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			walkErr = err
			break
		}
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil && walkErr == nil {
		walkErr = fmt.Errorf("dpkg-deb --fsys-tarfile %s: %v: %s", deb, err, stderr.String())
	}
	if walkErr != nil {
		return fmt.Errorf("qemu: unpack %s: %w", deb, walkErr)
	}
	return nil
}
