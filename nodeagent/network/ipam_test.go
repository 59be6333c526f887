package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestIPAMConcurrentAllocateNoDuplicates(t *testing.T) {
	dir := t.TempDir()
	cidr := netip.MustParsePrefix("10.88.3.0/26") // 61 usable
	// Two IPAM values on one dir stand in for two processes: only the
	// flock keeps them apart.
	a1, err := NewIPAM(dir, cidr)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := NewIPAM(dir, cidr)
	if err != nil {
		t.Fatal(err)
	}
	const pods = 60
	got := make([]netip.Addr, pods)
	errs := make([]error, pods)
	var wg sync.WaitGroup
	for i := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := a1
			if i%2 == 1 {
				a = a2
			}
			got[i], errs[i] = a.Allocate(fmt.Sprintf("pod-%d", i))
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	for i, ip := range got {
		if errs[i] != nil {
			t.Fatalf("pod-%d: %v", i, errs[i])
		}
		if j, dup := seen[ip]; dup {
			t.Fatalf("pod-%d and pod-%d both got %v", i, j, ip)
		}
		seen[ip] = i
		if !cidr.Contains(ip) || ip == cidr.Addr() || ip == a1.Gateway() || ip == netip.MustParseAddr("10.88.3.63") {
			t.Fatalf("pod-%d got unusable address %v", i, ip)
		}
	}
	all, err := a1.List()
	if err != nil || len(all) != pods {
		t.Fatalf("List: %d allocations, err %v; want %d", len(all), err, pods)
	}
}

func TestIPAMPersistReleaseReuse(t *testing.T) {
	dir := t.TempDir()
	cidr := netip.MustParsePrefix("10.88.3.0/24")
	a, err := NewIPAM(dir, cidr)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "10.88.3.2", "b": "10.88.3.3", "c": "10.88.3.4"}
	for _, id := range []string{"a", "b", "c"} {
		ip, err := a.Allocate(id)
		if err != nil || ip.String() != want[id] {
			t.Fatalf("Allocate(%s) = %v, %v; want %s", id, ip, err, want[id])
		}
	}
	// Idempotent.
	if ip, err := a.Allocate("b"); err != nil || ip.String() != "10.88.3.3" {
		t.Fatalf("Allocate(b) again = %v, %v", ip, err)
	}

	// A new instance (an agent restart) sees the same allocations.
	a2, err := NewIPAM(dir, cidr)
	if err != nil {
		t.Fatal(err)
	}
	for id, s := range want {
		ip, ok, err := a2.Get(id)
		if err != nil || !ok || ip.String() != s {
			t.Fatalf("after restart Get(%s) = %v %v %v; want %s", id, ip, ok, err, s)
		}
	}
	if ip, err := a2.Allocate("c"); err != nil || ip.String() != "10.88.3.4" {
		t.Fatalf("after restart Allocate(c) = %v, %v", ip, err)
	}

	// Release, and the lowest free address comes back.
	if err := a2.Release("a"); err != nil {
		t.Fatal(err)
	}
	if err := a2.Release("a"); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, ok, _ := a.Get("a"); ok {
		t.Fatal("a still allocated after release")
	}
	if ip, err := a.Allocate("d"); err != nil || ip.String() != "10.88.3.2" {
		t.Fatalf("Allocate(d) = %v, %v; want the released 10.88.3.2", ip, err)
	}
	if ip, err := a.Allocate("e"); err != nil || ip.String() != "10.88.3.5" {
		t.Fatalf("Allocate(e) = %v, %v; want 10.88.3.5", ip, err)
	}
}

func TestIPAMExhaustion(t *testing.T) {
	// A /29 has 8 addresses: network, gateway, broadcast, 5 for pods.
	a, err := NewIPAM(t.TempDir(), netip.MustParsePrefix("10.88.3.8/29"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ip, err := a.Allocate(fmt.Sprint("p", i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if want := netip.AddrFrom4([4]byte{10, 88, 3, byte(10 + i)}); ip != want {
			t.Fatalf("allocation %d = %v, want %v", i, ip, want)
		}
	}
	_, err = a.Allocate("one-too-many")
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("want ErrExhausted, got %v", err)
	}
	t.Logf("exhaustion error: %v", err)
	// Existing IDs still get theirs when full.
	if ip, err := a.Allocate("p0"); err != nil || ip.String() != "10.88.3.10" {
		t.Fatalf("Allocate(p0) when full = %v, %v", ip, err)
	}
	if err := a.Release("p3"); err != nil {
		t.Fatal(err)
	}
	if ip, err := a.Allocate("one-too-many"); err != nil || ip.String() != "10.88.3.13" {
		t.Fatalf("after a release = %v, %v; want 10.88.3.13", ip, err)
	}
}

func TestIPAMCIDRChanged(t *testing.T) {
	dir := t.TempDir()
	a, err := NewIPAM(dir, netip.MustParsePrefix("10.88.3.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Allocate("x"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewIPAM(dir, netip.MustParsePrefix("10.88.4.0/24")); !errors.Is(err, ErrCIDRChanged) {
		t.Fatalf("want ErrCIDRChanged, got %v", err)
	}
	if err := a.Release("x"); err != nil {
		t.Fatal(err)
	}
	// Nothing allocated: a new CIDR simply takes over.
	b, err := NewIPAM(dir, netip.MustParsePrefix("10.88.4.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := b.Allocate("y"); err != nil || ip.String() != "10.88.4.2" {
		t.Fatalf("Allocate = %v, %v", ip, err)
	}
}

// A state file a power failure left empty holds no allocations (their
// namespaces died with the machine); one with garbage in it is an error.
func TestIPAMEmptyFileAfterCrash(t *testing.T) {
	dir := t.TempDir()
	cidr := netip.MustParsePrefix("10.88.4.0/24")
	if err := os.WriteFile(filepath.Join(dir, ipamFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewIPAM(dir, cidr)
	if err != nil {
		t.Fatalf("empty state file: %v", err)
	}
	if ip, err := a.Allocate("a"); err != nil || ip.String() != "10.88.4.2" {
		t.Fatalf("Allocate(a) = %v, %v; want 10.88.4.2", ip, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ipamFile), []byte("{\"cidr\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Allocate("b"); err == nil || !strings.Contains(err.Error(), "decode") {
		t.Fatalf("garbage state file: err %v, want a decode error", err)
	}
}

// An agent upgraded from one that kept IPAM on disk takes over the
// addresses of the pods that kept running: they keep theirs, new pods get
// others, and the old state is gone so that it is adopted only once.
func TestIPAMAdoptsAnOlderAgentsState(t *testing.T) {
	cidr := netip.MustParsePrefix("10.88.5.0/24")
	legacy, dir := t.TempDir(), t.TempDir()
	old, err := NewIPAM(legacy, cidr)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if _, err := old.Allocate(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Release("b"); err != nil { // a hole: .3 is free
		t.Fatal(err)
	}

	a, err := NewIPAM(dir, cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Adopt(legacy); err != nil {
		t.Fatal(err)
	}
	got, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"].String() != "10.88.5.2" || got["c"].String() != "10.88.5.4" {
		t.Fatalf("adopted %v, want a=10.88.5.2 c=10.88.5.4", got)
	}
	if ip, err := a.Allocate("d"); err != nil || ip.String() != "10.88.5.3" {
		t.Fatalf("Allocate(d) = %v, %v; want the hole 10.88.5.3", ip, err)
	}
	for _, name := range []string{ipamFile, ipamLock} {
		if _, err := os.Stat(filepath.Join(legacy, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in the old directory: %v", name, err)
		}
	}
	// Nothing left to adopt: a second start changes nothing.
	if err := a.Adopt(legacy); err != nil {
		t.Fatal(err)
	}
	if again, _ := a.List(); len(again) != 3 {
		t.Fatalf("after a second Adopt: %v", again)
	}
	if err := a.Adopt(filepath.Join(legacy, "never-made")); err != nil {
		t.Fatalf("a directory that does not exist: %v", err)
	}
}

// Two states that disagree are an error naming both, never a silent
// double allocation; allocations of another CIDR fail as they always did.
func TestIPAMAdoptRefusesAConflict(t *testing.T) {
	cidr := netip.MustParsePrefix("10.88.6.0/24")
	legacy, dir := t.TempDir(), t.TempDir()
	old, err := NewIPAM(legacy, cidr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Allocate("a"); err != nil {
		t.Fatal(err)
	}
	a, err := NewIPAM(dir, cidr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Allocate("z"); err != nil { // takes .2, a's address in the old state
		t.Fatal(err)
	}
	err = a.Adopt(legacy)
	if err == nil || !strings.Contains(err.Error(), "10.88.6.2 is pod a's") || !strings.Contains(err.Error(), "pod z's") {
		t.Fatalf("Adopt = %v, want the conflict over 10.88.6.2", err)
	}
	if _, err := os.Stat(filepath.Join(legacy, ipamFile)); err != nil {
		t.Fatalf("the old state must stay after a refused adoption: %v", err)
	}

	other, err := NewIPAM(t.TempDir(), netip.MustParsePrefix("10.88.7.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Adopt(legacy); !errors.Is(err, ErrCIDRChanged) {
		t.Fatalf("Adopt from another CIDR = %v, want ErrCIDRChanged", err)
	}
}
