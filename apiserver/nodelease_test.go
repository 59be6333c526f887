package apiserver_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/client/nodelease"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A node creates, renews, reads and deletes its own Lease in
// kube-node-lease, and no other: renewing another node's would keep a
// dead node looking alive. Leases are validated as coordination.k8s.io's.
func TestNodeTouchesOnlyItsOwnLease(t *testing.T) {
	w := newNodeWorld(t)
	ctx, n1 := ctxT(t), w.n1

	n, err := w.admin.Nodes().Get(ctx, "", "n1")
	if err != nil {
		t.Fatal(err)
	}
	r := nodelease.New(n1, "n1", n.GetMetadata().GetUid())
	for range 3 {
		if err := r.Renew(ctx, time.Now()); err != nil {
			t.Fatalf("n1 renewing its own Lease: %v", err)
		}
	}
	l, err := n1.Leases().Get(ctx, defaults.NodeLeaseNamespace, "n1")
	if err != nil {
		t.Fatalf("n1 reading its own Lease: %v", err)
	}
	if l.GetSpec().GetHolderIdentity() != "n1" || l.GetSpec().GetLeaseDurationSeconds() != defaults.NodeLeaseDurationSeconds ||
		len(l.GetMetadata().GetOwnerReferences()) != 1 || l.GetMetadata().GetOwnerReferences()[0].GetUid() != n.GetMetadata().GetUid() {
		t.Fatalf("n1's Lease: %v", l)
	}

	// Someone else changed it: the renewer reads it again and takes it
	// back, counting the transition.
	if _, err := w.admin.Leases().Modify(ctx, defaults.NodeLeaseNamespace, "n1", func(l *skiffv1.Lease) error {
		l.Spec.HolderIdentity = "intruder"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Renew(ctx, time.Now()); err != nil {
		t.Fatalf("renewing after a change by someone else: %v", err)
	}
	if l, err = w.admin.Leases().Get(ctx, defaults.NodeLeaseNamespace, "n1"); err != nil {
		t.Fatal(err)
	} else if l.GetSpec().GetHolderIdentity() != "n1" || l.GetSpec().GetLeaseTransitions() != 1 {
		t.Fatalf("after taking it back: holder %q, transitions %d", l.GetSpec().GetHolderIdentity(), l.GetSpec().GetLeaseTransitions())
	}

	// n2's Lease, made by the admin: n1 may neither read, renew nor
	// delete it, nor create one for n2 or outside kube-node-lease.
	n2Lease := &skiffv1.Lease{Metadata: &skiffv1.ObjectMeta{Name: "n2", Namespace: defaults.NodeLeaseNamespace},
		Spec: &skiffv1.LeaseSpec{HolderIdentity: "n2"}}
	created, err := w.admin.Leases().Create(ctx, n2Lease)
	if err != nil {
		t.Fatal(err)
	}
	const why = "a node may only touch its own Lease (n1 in namespace kube-node-lease)"
	_, err = n1.Leases().Get(ctx, defaults.NodeLeaseNamespace, "n2")
	wantCode(t, err, codes.PermissionDenied, why)
	_, err = n1.Leases().Update(ctx, created)
	wantCode(t, err, codes.PermissionDenied, why)
	_, _, err = n1.Leases().Delete(ctx, defaults.NodeLeaseNamespace, "n2", client.DeleteOptions{})
	wantCode(t, err, codes.PermissionDenied, why)
	_, err = n1.Leases().Create(ctx, &skiffv1.Lease{Metadata: &skiffv1.ObjectMeta{Name: "n1", Namespace: "default"}})
	wantCode(t, err, codes.PermissionDenied, why)
	_, _, err = n1.Leases().List(ctx, client.ListOptions{Namespace: defaults.NodeLeaseNamespace})
	wantCode(t, err, codes.PermissionDenied, "a node reads only")

	// Validation names the field.
	bad := &skiffv1.Lease{Metadata: &skiffv1.ObjectMeta{Name: "bad", Namespace: defaults.NodeLeaseNamespace},
		Spec: &skiffv1.LeaseSpec{LeaseDurationSeconds: -1}}
	_, err = w.admin.Leases().Create(ctx, bad)
	wantCode(t, err, codes.InvalidArgument, "spec.leaseDurationSeconds")

	// Its own, deleted, is made again on the next renewal.
	if _, _, err := n1.Leases().Delete(ctx, defaults.NodeLeaseNamespace, "n1", client.DeleteOptions{}); err != nil {
		t.Fatalf("n1 deleting its own Lease: %v", err)
	}
	if err := r.Renew(ctx, time.Now()); err != nil {
		t.Fatalf("renewing a deleted Lease: %v", err)
	}
	if _, err := n1.Leases().Get(ctx, defaults.NodeLeaseNamespace, "n1"); err != nil {
		t.Fatal(err)
	}
}
