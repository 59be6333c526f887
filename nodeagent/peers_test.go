package nodeagent

import (
	"net/netip"
	"testing"

	"github.com/skiff-sh/skiff/nodeagent/network"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPeerRoutes(t *testing.T) {
	node := func(name, cidr, ip string) *skiffv1.Node {
		return &skiffv1.Node{
			Metadata: &skiffv1.ObjectMeta{Name: name},
			Spec:     &skiffv1.NodeSpec{PodCidr: cidr},
			Status:   &skiffv1.NodeStatus{Addresses: []*skiffv1.NodeAddress{{Type: "Hostname", Address: name}, {Type: "InternalIP", Address: ip}}},
		}
	}
	nodes := []*skiffv1.Node{
		node("c", "10.88.3.0/24", "172.31.0.3"),
		node("self", "10.88.1.0/24", "172.31.0.1"),
		node("b", "10.88.2.0/24", "172.31.0.2"),
		node("no-cidr", "", "172.31.0.9"),
		node("loopback", "10.88.4.0/24", "127.0.0.1"),
		node("in-cluster", "10.88.5.0/24", "10.88.9.1"),
		node("outside", "10.99.0.0/24", "172.31.0.7"),
		node("stale-own", "10.88.1.0/24", "172.31.0.8"),
		node("dup", "10.88.2.0/24", "172.31.0.10"),
		node("v6", "10.88.6.0/24", "fd00::1"),
	}
	got := peerRoutes(nodes, "self", netip.MustParseAddr("10.88.1.1"), netip.MustParsePrefix("10.88.0.0/16"))
	want := []network.PeerRoute{
		{CIDR: netip.MustParsePrefix("10.88.2.0/24"), Via: netip.MustParseAddr("172.31.0.2")},
		{CIDR: netip.MustParsePrefix("10.88.3.0/24"), Via: netip.MustParseAddr("172.31.0.3")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
