package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestHostsFile(t *testing.T) {
	got := string(HostsFile(netip.MustParseAddr("10.88.3.7"), "web-7x2k"))
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost ip6-loopback\n", "10.88.3.7\tweb-7x2k\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts lacks %q:\n%s", want, got)
		}
	}
	got = string(HostsFile(netip.MustParseAddr("10.88.3.7"), "h", "web-7x2k", "h"))
	if !strings.Contains(got, "10.88.3.7\th web-7x2k\n") {
		t.Errorf("aliases:\n%s", got)
	}
}

func TestResolvConf(t *testing.T) {
	got := string(ResolvConf(netip.MustParseAddr("10.89.0.10"), "shop", "cluster.local."))
	want := "# Managed by skiff.\nnameserver 10.89.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := string(ResolvConf(netip.MustParseAddr("10.89.0.10"), "", "")); !strings.Contains(got, "search svc.cluster.local cluster.local\n") {
		t.Errorf("defaults:\n%s", got)
	}
}

func TestHostVethName(t *testing.T) {
	seen := map[string]bool{}
	for _, id := range []string{"a", "b", strings.Repeat("x", 200), "4f1c1e0a-9d43-4d0e-8b47-2d1e5c0b6a77"} {
		for i := range maxVethCandidates {
			n := hostVethName(id, i)
			if len(n) > 15 || !strings.HasPrefix(n, "skv") {
				t.Fatalf("bad name %q", n)
			}
			if n != hostVethName(id, i) {
				t.Fatal("not stable")
			}
			if seen[n] {
				t.Fatalf("duplicate %q", n)
			}
			seen[n] = true
		}
	}
	if err := checkPodID("has space"); err == nil {
		t.Error("space accepted")
	}
	if got := macForIP(netip.MustParseAddr("10.88.3.7")).String(); got != "0a:58:0a:58:03:07" {
		t.Errorf("mac %s", got)
	}
}
