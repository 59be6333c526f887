// Package guest boots throwaway QEMU guests for the VM test tier: Debian's
// cloud kernel (downloaded once into a cache directory), an initramfs made
// here from busybox and the files a test hands in, and a shell script run as
// the guest's init whose steps report their exit codes on the serial
// console.
package guest

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// KernelPackage is Debian's metapackage whose dependency names the current
// cloud kernel: small, with virtio and cgroup v2 built in.
const KernelPackage = "linux-image-cloud-amd64"

// Modules are the kernel modules every guest loads, in load order (a
// module after those it depends on; paths below the package's
// lib/modules/<version>/kernel): the container runtime needs overlayfs;
// the loop driver makes /dev/loop0 a real block device for the
// device-control probes; a node's pod network is a bridge with veths,
// and its service proxy, masquerade and host ports are nftables tables.
var Modules = []string{"fs/overlayfs/overlay.ko", "drivers/block/loop.ko",
	"net/llc/llc.ko", "net/802/stp.ko", "net/bridge/bridge.ko", "drivers/net/veth.ko",
	"lib/libcrc32c.ko", "net/netfilter/nfnetlink.ko", "net/netfilter/nf_tables.ko",
	"net/ipv4/netfilter/nf_defrag_ipv4.ko", "net/ipv6/netfilter/nf_defrag_ipv6.ko",
	"net/netfilter/nf_conntrack.ko", "net/netfilter/nf_nat.ko", "net/netfilter/nft_chain_nat.ko",
	"net/netfilter/nft_nat.ko", "net/netfilter/nft_masq.ko", "net/netfilter/nft_ct.ko",
	"net/netfilter/nft_numgen.ko", "net/netfilter/nft_fib.ko", "net/ipv4/netfilter/nft_fib_ipv4.ko"}

// Kernel is an unpacked guest kernel.
type Kernel struct {
	Version string   // e.g. 6.1.0-57-cloud-amd64
	Image   string   // the vmlinuz file
	Modules []string // the .ko files of Modules, in that order
}

// FetchKernel returns the cloud kernel of the host's apt sources, unpacked
// under cacheDir/kernel-<version>. The first call downloads the package
// with `apt-get download` (no install) and keeps only the image and
// Modules; later calls reuse the cache.
func FetchKernel(cacheDir string) (*Kernel, error) {
	pkg, err := kernelPackageName()
	if err != nil {
		return nil, err
	}
	version := strings.TrimPrefix(pkg, "linux-image-")
	dir := filepath.Join(cacheDir, "kernel-"+version)
	k := &Kernel{Version: version, Image: filepath.Join(dir, "vmlinuz")}
	for _, m := range Modules {
		k.Modules = append(k.Modules, filepath.Join(dir, "modules", path.Base(m)))
	}
	if complete(k) {
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
		return nil, fmt.Errorf("guest: apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("guest: apt-get download %s left %d .deb files", pkg, len(debs))
	}
	stage := filepath.Join(tmp, "kernel")
	if err := os.MkdirAll(filepath.Join(stage, "modules"), 0o755); err != nil {
		return nil, err
	}
	want := map[string]string{"./boot/vmlinuz-" + version: filepath.Join(stage, "vmlinuz")}
	for _, m := range Modules {
		want["./lib/modules/"+version+"/kernel/"+m] = filepath.Join(stage, "modules", path.Base(m))
	}
	if err := extractDeb(debs[0], want); err != nil {
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
	return k, nil
}

func complete(k *Kernel) bool {
	for _, f := range append([]string{k.Image}, k.Modules...) {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

// kernelPackageName resolves KernelPackage to the versioned package it
// depends on, from the local apt cache (no network).
func kernelPackageName() (string, error) {
	out, err := exec.Command("apt-cache", "depends", KernelPackage).Output()
	if err != nil {
		return "", fmt.Errorf("guest: apt-cache depends %s: %w", KernelPackage, err)
	}
	m := regexp.MustCompile(`Depends: (linux-image-[0-9][^\s]*-cloud-amd64)`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("guest: apt-cache depends %s names no versioned kernel:\n%s", KernelPackage, out)
	}
	return string(m[1]), nil
}

// extractDeb writes the members of deb named by want's keys to want's
// values, reading the data archive through dpkg-deb.
func extractDeb(deb string, want map[string]string) error {
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
	found := 0
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
		dst, ok := want[h.Name]
		if !ok || h.Typeflag != tar.TypeReg {
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
		found++
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil && walkErr == nil {
		walkErr = fmt.Errorf("dpkg-deb --fsys-tarfile %s: %v: %s", deb, err, stderr.String())
	}
	if walkErr != nil {
		return fmt.Errorf("guest: unpack %s: %w", deb, walkErr)
	}
	if found != len(want) {
		var missing []string
		for name, dst := range want {
			if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, name)
			}
		}
		return fmt.Errorf("guest: %s lacks %v", deb, missing)
	}
	return nil
}
