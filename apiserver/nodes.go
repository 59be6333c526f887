package apiserver

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// cidrAllocator hands each node its own block of the cluster CIDR. The
// blocks in use are claimed in etcd in the same transaction that creates the
// node, so two API servers never give out one block twice; the bitmap here
// only makes finding a free one quick.
type cidrAllocator struct {
	cluster netip.Prefix
	bits    int

	mu   sync.Mutex
	used map[netip.Prefix]bool
	next int // where the search for a free block starts
}

func newCIDRAllocator(cluster string, bits int) (*cidrAllocator, error) {
	p, err := netip.ParsePrefix(cluster)
	if err != nil {
		return nil, fmt.Errorf("apiserver: cluster CIDR %q: %w", cluster, err)
	}
	return &cidrAllocator{cluster: p.Masked(), bits: bits, used: map[netip.Prefix]bool{}}, nil
}

func (a *cidrAllocator) blocks() int { return 1 << (a.bits - a.cluster.Bits()) }

func (a *cidrAllocator) block(i int) netip.Prefix {
	base := a.cluster.Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += uint32(i) << (32 - a.bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), a.bits)
}

// load marks the blocks of the nodes already stored.
func (a *cidrAllocator) load(ctx context.Context, st *storage.Store) error {
	nodes, _, err := st.List(ctx, skiffv1.Kind_KIND_NODE, "")
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range nodes {
		if p, err := netip.ParsePrefix(n.(*skiffv1.Node).GetSpec().GetPodCidr()); err == nil {
			a.used[p] = true
		}
	}
	return nil
}

// candidate returns a block believed free, or false when none is left.
func (a *cidrAllocator) candidate() (netip.Prefix, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.blocks()
	for i := 0; i < n; i++ {
		p := a.block((a.next + i) % n)
		if !a.used[p] {
			a.next = (a.next + i + 1) % n
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func (a *cidrAllocator) markUsed(p netip.Prefix) {
	a.mu.Lock()
	a.used[p] = true
	a.mu.Unlock()
}

func (a *cidrAllocator) release(cidr string) {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		a.mu.Lock()
		delete(a.used, p)
		a.mu.Unlock()
	}
}

func (a *cidrAllocator) contains(p netip.Prefix) bool {
	return p.Bits() >= a.cluster.Bits() && a.cluster.Contains(p.Addr())
}

func cidrClaim(cidr string) string { return "podcidr/" + strings.ReplaceAll(cidr, "/", "_") }

// claimsOf lists the unique values an object holds, released with it.
func claimsOf(obj skiffv1.Resource) []string {
	switch o := obj.(type) {
	case *skiffv1.Node:
		if o.GetSpec().GetPodCidr() != "" {
			return []string{cidrClaim(o.Spec.PodCidr)}
		}
	case *skiffv1.Service:
		return serviceClaims(o)
	}
	return nil
}

// createNode stores a registering node with a pod CIDR of its own: the one
// it asks for, if free and inside the cluster CIDR, or the next free block.
// When every block is taken the node is stored without one, as Kubernetes
// does, and its agent waits.
func (s *Server) createNode(ctx context.Context, n *skiffv1.Node, r ref) (*skiffv1.Object, error) {
	if want := n.GetSpec().GetPodCidr(); want != "" {
		p, err := netip.ParsePrefix(want)
		if err != nil || !s.cidrs.contains(p) {
			return nil, invalid("spec.podCIDR: %q is not inside the cluster CIDR %s", want, s.cidrs.cluster)
		}
		created, err := s.store.Create(ctx, n, []string{cidrClaim(p.String())}, 0)
		if err == storage.ErrClaimed {
			return nil, toStatus(fmt.Errorf("pod CIDR %s is already given to another node", want), r)
		}
		if err != nil {
			return nil, toStatus(err, r)
		}
		s.cidrs.markUsed(p)
		return skiffv1.Wrap(created), nil
	}
	for {
		p, ok := s.cidrs.candidate()
		if !ok {
			s.log.Warn("no pod CIDR left for node", "node", n.GetMetadata().GetName(), "cluster_cidr", s.cidrs.cluster)
			created, err := s.store.Create(ctx, n, nil, 0)
			if err != nil {
				return nil, toStatus(err, r)
			}
			return skiffv1.Wrap(created), nil
		}
		n.Spec.PodCidr = p.String()
		created, err := s.store.Create(ctx, n, []string{cidrClaim(p.String())}, 0)
		switch err {
		case nil:
			s.cidrs.markUsed(p)
			return skiffv1.Wrap(created), nil
		case storage.ErrClaimed:
			// Another server gave it out since we looked.
			s.cidrs.markUsed(p)
		default:
			return nil, toStatus(err, r)
		}
	}
}
