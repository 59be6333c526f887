package controller

import (
	"context"
	"log/slog"
	"testing"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Reclaiming (Delete) acts on the volume the binder decided on, which it
// read from a cache that may be behind: a PersistentVolume of the same
// name made again since (Available, no claim) must not be deleted, nor one
// whose claimRef was cleared and which went to another claim.
func TestReclaimDeletesOnlyTheReleasedVolume(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := context.Background()
	pv := func() *skiffv1.PersistentVolume {
		p := testPV("pv-d", "manual", "1Gi", "ReadWriteOnce")
		p.Status = nil
		p.Spec.PersistentVolumeReclaimPolicy = skiffv1.ReclaimDelete
		p.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "default", Name: "gone", Uid: "gone-uid"}
		return p
	}
	b := &volumeBinder{c: c, log: slog.New(slog.DiscardHandler), waiting: map[string]string{}}

	// The cache's copy is of a volume deleted and made again since.
	stale, err := c.PersistentVolumes().Create(ctx, pv())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PersistentVolumes().Delete(ctx, "", "pv-d", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := pv()
	fresh.Spec.ClaimRef = nil
	again, err := c.PersistentVolumes().Create(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.reclaim(ctx, stale); err != nil {
		t.Logf("reclaim of a stale copy: %v", err)
	}
	if got, err := c.PersistentVolumes().Get(ctx, "", "pv-d"); err != nil || got.GetMetadata().GetUid() != again.GetMetadata().GetUid() {
		t.Fatalf("the PersistentVolume made again was deleted by reclaiming its predecessor: %v", err)
	}

	// The same volume, but its claimRef cleared and given to a new claim
	// since the cache's copy.
	if _, err := c.PersistentVolumes().Modify(ctx, "", "pv-d", func(cur *skiffv1.PersistentVolume) error {
		cur.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "default", Name: "gone", Uid: "gone-uid"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	released, err := c.PersistentVolumes().Get(ctx, "", "pv-d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PersistentVolumes().Modify(ctx, "", "pv-d", func(cur *skiffv1.PersistentVolume) error {
		cur.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "default", Name: "new", Uid: "new-uid"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.reclaim(ctx, released); err != nil {
		t.Logf("reclaim of a volume rebound since: %v", err)
	}
	if got, err := c.PersistentVolumes().Get(ctx, "", "pv-d"); err != nil || got.GetSpec().GetClaimRef().GetUid() != "new-uid" {
		t.Fatalf("a PersistentVolume bound to a new claim was deleted by reclaiming its old binding: %v", err)
	}

	// Still released from the same claim: deleted.
	cur, err := c.PersistentVolumes().Modify(ctx, "", "pv-d", func(cur *skiffv1.PersistentVolume) error {
		cur.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "default", Name: "gone", Uid: "gone-uid"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.reclaim(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PersistentVolumes().Get(ctx, "", "pv-d"); err == nil {
		t.Fatal("a released Delete volume was kept")
	}
}
