package nodeagent

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/network"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// peerResync is how often the peer routes are put right even when no Node
// changed, in case someone removed one by hand.
const peerResync = 30 * time.Second

// followPeers registers runPeers' handler on the agent's Node informer
// (before it runs) and returns the channel it kicks on a change that
// matters to the routes.
func followPeers(nodes *client.Informer[*skiffv1.Node]) chan struct{} {
	kick := make(chan struct{}, 1)
	notify := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	nodes.AddHandler(client.Handler[*skiffv1.Node]{
		OnAdd: func(*skiffv1.Node) { notify() },
		// A status change (a node's running pods, its Ready condition)
		// does not move routes; only a new CIDR or address matters here.
		OnUpdate: func(old, n *skiffv1.Node) {
			if peerOf(old) != peerOf(n) {
				notify()
			}
		},
		OnDelete: func(*skiffv1.Node) { notify() },
	})
	return kick
}

// runPeers keeps the node's cross-node pod network until ctx ends: the
// masquerade of pod traffic that leaves the cluster CIDR, and host-gw
// routes to every other node's pod CIDR via that node's InternalIP,
// following Node objects as they come, change and go. Each change sets the
// whole list (SetPeerRoutes), so a missed event is repaired by the next.
func (a *Agent) runPeers(ctx context.Context, nodes *client.Informer[*skiffv1.Node], kick chan struct{}) {
	if err := a.net.EnsureMasquerade(); err != nil {
		// Pods still reach each other; only traffic leaving the cluster
		// CIDR is affected, so the node keeps running.
		a.log.Warn("masquerade of pod traffic not installed", "err", err)
	}
	notify := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	// Wait for the first list once: a closed channel in the loop's select
	// would be ready forever and turn the loop into a busy one.
	select {
	case <-ctx.Done():
		return
	case <-nodes.Synced():
	}
	t := time.NewTicker(peerResync)
	defer t.Stop()
	var last []network.PeerRoute
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			case <-t.C:
			}
		}
		routes := peerRoutes(nodes.List(), a.cfg.NodeName, a.net.Gateway(), netip.MustParsePrefix(a.cfg.ClusterCIDR))
		if err := a.net.SetPeerRoutes(routes); err != nil {
			a.log.Warn("peer routes", "err", err)
			time.AfterFunc(time.Second, notify) // try again soon
			continue
		}
		if !slices.Equal(routes, last) {
			a.log.Info("peer routes set", "peers", len(routes))
			last = routes
		}
	}
}

// peerRoutes is the host-gw route set for this node: one route per other
// node that has a pod CIDR and a usable InternalIP (IPv4, not loopback, not
// inside the cluster CIDR). A node whose CIDR holds our own gateway is left
// out (a stale object), as is a second node claiming the same CIDR.
// Sorted, so equal sets compare equal.
func peerRoutes(nodes []*skiffv1.Node, self string, gateway netip.Addr, cluster netip.Prefix) []network.PeerRoute {
	seen := map[netip.Prefix]bool{}
	var out []network.PeerRoute
	slices.SortFunc(nodes, func(x, y *skiffv1.Node) int {
		return compareStrings(x.GetMetadata().GetName(), y.GetMetadata().GetName())
	})
	for _, n := range nodes {
		if n.GetMetadata().GetName() == self {
			continue
		}
		p := peerOf(n)
		cidr, err := netip.ParsePrefix(p.cidr)
		if err != nil || !cidr.Addr().Is4() || !cluster.Contains(cidr.Addr()) || cidr.Bits() < cluster.Bits() {
			continue
		}
		cidr = cidr.Masked()
		via, err := netip.ParseAddr(p.ip)
		if err != nil || !via.Is4() || via.IsLoopback() || via.IsUnspecified() || cluster.Contains(via) {
			continue
		}
		if cidr.Contains(gateway) || seen[cidr] {
			continue
		}
		seen[cidr] = true
		out = append(out, network.PeerRoute{CIDR: cidr, Via: via})
	}
	slices.SortFunc(out, func(x, y network.PeerRoute) int { return x.CIDR.Addr().Compare(y.CIDR.Addr()) })
	return out
}

// peer is what of a Node its route depends on.
type peer struct{ cidr, ip string }

func peerOf(n *skiffv1.Node) peer {
	p := peer{cidr: n.GetSpec().GetPodCidr()}
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			p.ip = a.GetAddress()
			break
		}
	}
	return p
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
