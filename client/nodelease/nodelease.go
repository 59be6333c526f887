// Package nodelease keeps a node's Lease in kube-node-lease: the node's
// heartbeat, as Kubernetes' kubelet renews it. A Lease is a small object
// renewed every few seconds, so the far larger Node is written only when
// its status changes; the node lifecycle controller reads the renew time.
// The agent uses it, and so do bench/scale's hollow nodes.
package nodelease

import (
	"context"
	"fmt"

	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Renewer renews one node's Lease. It is not safe for concurrent use: one
// loop renews it.
type Renewer struct {
	leases   client.Resource[*skiffv1.Lease]
	node     string
	nodeUID  string
	duration int32
	// last is the Lease as last written, so that a renewal is one write
	// (no read first) while no one else touched it.
	last *skiffv1.Lease
}

// New returns a Renewer of node's Lease. nodeUID is the Node's UID: the
// Lease is owned by the Node, so the garbage collector deletes it with it.
func New(c *client.Client, node, nodeUID string) *Renewer {
	return &Renewer{leases: c.Leases(), node: node, nodeUID: nodeUID, duration: defaults.NodeLeaseDurationSeconds}
}

// SetNodeUID changes the owner of the Lease, for a Node registered anew.
func (r *Renewer) SetNodeUID(uid string) {
	if uid != r.nodeUID {
		r.nodeUID = uid
		r.last = nil
	}
}

// Renew sets the Lease's renew time to now, creating the Lease if there
// is none. It writes once when the Lease is as last written, and reads it
// again only when someone else changed or deleted it.
func (r *Renewer) Renew(ctx context.Context, now time.Time) error {
	if r.last != nil {
		next := proto.Clone(r.last).(*skiffv1.Lease)
		next.Spec.RenewTime = timestamppb.New(now)
		out, err := r.leases.Update(ctx, next)
		if err == nil {
			r.last = out
			return nil
		}
		if !client.IsConflict(err) && !client.IsNotFound(err) {
			return fmt.Errorf("nodelease: renew %s: %w", r.node, err)
		}
		r.last = nil // changed or deleted by someone else: read it again
	}
	cur, err := r.leases.Get(ctx, defaults.NodeLeaseNamespace, r.node)
	switch {
	case client.IsNotFound(err):
		out, err := r.leases.Create(ctx, r.fresh(now))
		if err != nil {
			return fmt.Errorf("nodelease: create %s: %w", r.node, err)
		}
		r.last = out
		return nil
	case err != nil:
		return fmt.Errorf("nodelease: read %s: %w", r.node, err)
	}
	r.adopt(cur, now)
	out, err := r.leases.Update(ctx, cur)
	if err != nil {
		return fmt.Errorf("nodelease: renew %s: %w", r.node, err)
	}
	r.last = out
	return nil
}

// fresh is a new Lease held by the node from now.
func (r *Renewer) fresh(now time.Time) *skiffv1.Lease {
	l := &skiffv1.Lease{
		Metadata: &skiffv1.ObjectMeta{Name: r.node, Namespace: defaults.NodeLeaseNamespace},
		Spec:     &skiffv1.LeaseSpec{},
	}
	r.adopt(l, now)
	return l
}

// adopt makes l the node's Lease renewed now: held by the node (a change
// of holder counts as a transition), owned by the Node of nodeUID.
func (r *Renewer) adopt(l *skiffv1.Lease, now time.Time) {
	if l.Spec == nil {
		l.Spec = &skiffv1.LeaseSpec{}
	}
	s := l.Spec
	if s.HolderIdentity != r.node {
		if s.HolderIdentity != "" {
			s.LeaseTransitions++
		}
		s.HolderIdentity = r.node
		s.AcquireTime = timestamppb.New(now)
	}
	s.LeaseDurationSeconds = r.duration
	s.RenewTime = timestamppb.New(now)
	if r.nodeUID != "" {
		l.Metadata.OwnerReferences = []*skiffv1.OwnerReference{{Kind: "Node", Name: r.node, Uid: r.nodeUID}}
	}
}

// RenewTime is when the Lease was last renewed, or the zero time for
// nil or one never renewed.
func RenewTime(l *skiffv1.Lease) time.Time {
	if t := l.GetSpec().GetRenewTime(); t != nil {
		return t.AsTime()
	}
	return time.Time{}
}
