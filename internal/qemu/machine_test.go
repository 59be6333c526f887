package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestArgsNameEveryNICWithItsMAC(t *testing.T) {
	m := Machine{Kernel: &Kernel{Image: "/k/vmlinuz"}, Initrd: "/n/initrd", Accel: "tcg", MemoryMB: 640, CPUs: 1,
		NICs: []NIC{{Tap: "tap2", MAC: "52:54:00:31:01:02"}, {Tap: "tap3", MAC: "52:54:00:31:01:03"}}, Append: "x=1"}
	args := strings.Join(m.Args(), " ")
	for _, want := range []string{"-accel tcg,thread=multi", "-m 640", "-smp 1", "-kernel /k/vmlinuz", "-initrd /n/initrd",
		"-netdev tap,id=net0,ifname=tap2,script=no,downscript=no", "-device virtio-net-pci,netdev=net0,mac=52:54:00:31:01:02",
		"-netdev tap,id=net1,ifname=tap3,", "mac=52:54:00:31:01:03", "cgroup_no_v1=all x=1"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q:\n%s", want, args)
		}
	}
	m.Accel = "kvm"
	if args := m.Args(); !slices.Contains(args, "kvm") || slices.Contains(args, "tcg,thread=multi") {
		t.Errorf("kvm args: %v", args)
	}
}

// The cached kernel's modules load in an order where each comes after
// what it depends on (read from the modules themselves), the way insmod
// needs them. Needs the kernel `make vm-kernel` caches.
func TestLoadOrderPutsDependenciesFirst(t *testing.T) {
	root, _ := filepath.Abs("../..")
	k, err := CachedKernel(filepath.Join(root, ".cache", "vm"))
	if err != nil {
		t.Skipf("no cached guest kernel (make vm-kernel): %v", err)
	}
	dir := filepath.Dir(k.Modules[0])
	order, err := LoadOrder(dir, []string{"nft_masq", "virtio_net"})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
	}
	for _, pair := range [][2]string{{"nfnetlink", "nf_tables"}, {"nf_tables", "nft_masq"}, {"nf_conntrack", "nf_nat"},
		{"nf_nat", "nft_masq"}, {"virtio", "virtio_net"}, {"net_failover", "virtio_net"}, {"failover", "net_failover"}} {
		a, okA := pos[pair[0]]
		b, okB := pos[pair[1]]
		if !okA || !okB || a > b {
			t.Errorf("%s must load before %s: %v", pair[0], pair[1], order)
		}
	}
	if _, err := LoadOrder(dir, []string{"no_such_module"}); err == nil || !strings.Contains(err.Error(), "no_such_module") {
		t.Errorf("a missing module: %v", err)
	}
	// Every module the cache lists is one of the guest's.
	for _, m := range k.Modules {
		if _, err := os.Stat(m); err != nil {
			t.Error(err)
		}
	}
}
