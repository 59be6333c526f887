package network

import (
	"net/netip"
	"testing"
)

func TestResolverPolicies(t *testing.T) {
	host := ParseResolvConf([]byte("# host\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example\noptions edns0 ndots:1\n"))
	extra := Resolver{
		Nameservers: []string{"192.0.2.54", "192.0.2.99"},
		Searches:    []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
		Options:     []ResolverOption{{Name: "ndots", Value: "2", HasValue: true}, {Name: "edns0"}},
	}
	for _, tc := range []struct {
		name string
		r    Resolver
		want string
	}{
		{"Default", host, "# Managed by skiff.\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example\noptions edns0 ndots:1\n"},
		{"Default+dnsConfig", host.With(extra), "# Managed by skiff.\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 192.0.2.99\n" +
			"search corp.example ns1.svc.cluster-domain.example my.dns.search.suffix\noptions edns0 ndots:2\n"},
		{"None", Resolver{}.With(extra), "# Managed by skiff.\nnameserver 192.0.2.54\nnameserver 192.0.2.99\n" +
			"search ns1.svc.cluster-domain.example my.dns.search.suffix\noptions ndots:2 edns0\n"},
		{"ClusterFirst", ClusterFirst(netip.MustParseAddr("10.88.0.1"), "shop", "cluster.local"),
			"# Managed by skiff.\nnameserver 10.88.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"},
	} {
		if got := string(tc.r.Render()); got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
	four := Resolver{Nameservers: []string{"1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4"}}
	if got := string(four.Render()); got != "# Managed by skiff.\nnameserver 1.0.0.1\nnameserver 1.0.0.2\nnameserver 1.0.0.3\n" {
		t.Errorf("more than 3 nameservers:\n%s", got)
	}
}

func TestWithHostAliases(t *testing.T) {
	got := string(WithHostAliases([]byte("127.0.0.1\tlocalhost\n"), []HostAlias{{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}}, {IP: "10.1.2.3", Hostnames: []string{"foo.remote"}}}))
	want := "127.0.0.1\tlocalhost\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
