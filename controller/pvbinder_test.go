package controller_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func hostPathPV(name, class, size, policy string) *skiffv1.PersistentVolume {
	return &skiffv1.PersistentVolume{
		Metadata: &skiffv1.ObjectMeta{Name: name},
		Spec: &skiffv1.PersistentVolumeSpec{
			Capacity: map[string]string{"storage": size}, AccessModes: []string{"ReadWriteOnce"},
			StorageClassName: class, PersistentVolumeReclaimPolicy: policy,
			HostPath: &skiffv1.HostPathSource{Path: "/srv/" + name},
		},
	}
}

func classClaim(name, class, size string) *skiffv1.Volume {
	return &skiffv1.Volume{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &skiffv1.VolumeSpec{StorageClassName: &class, Capacity: size, AccessMode: "ReadWriteOnce"},
	}
}

// TestVolumeBinder binds claims to PersistentVolumes on a real API server:
// a claim waits (Pending, with an event) until a volume of its class fits,
// takes the smallest, both sides name each other, and deleting the claim
// releases (Retain) or deletes (Delete) the volume.
func TestVolumeBinder(t *testing.T) {
	srv := apitest.Start(t)
	startManager(t, srv)
	ctx := ctxT(t)
	c := srv.Client

	// A claim before any volume: Pending, and told why.
	if _, err := c.Volumes().Create(ctx, classClaim("early", "manual", "3Gi")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a FailedBinding event for the waiting claim", func() (bool, error) {
		evs, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
		for _, e := range evs {
			if e.GetInvolvedObject().GetName() == "early" && e.GetReason() == "FailedBinding" && strings.Contains(e.GetMessage(), `"manual"`) {
				return true, nil
			}
		}
		return false, err
	})
	if v, err := c.Volumes().Get(ctx, "default", "early"); err != nil || v.GetStatus().GetPhase() != skiffv1.VolumePending || v.GetSpec().GetVolumeName() != "" {
		t.Fatalf("claim without a volume: %v, %v", v.GetStatus(), err)
	}

	// Volumes: one too small, one of another class, two that fit (the
	// claim may bind as soon as the first of them exists).
	for _, pv := range []*skiffv1.PersistentVolume{
		hostPathPV("pv-1g", "manual", "1Gi", ""),
		hostPathPV("pv-fast", "fast", "5Gi", ""),
		hostPathPV("pv-10g", "manual", "10Gi", ""),
		hostPathPV("pv-20g", "manual", "20Gi", "Delete"),
	} {
		if _, err := c.PersistentVolumes().Create(ctx, pv); err != nil {
			t.Fatal(err)
		}
	}
	bound := func(claim, pv string) {
		t.Helper()
		waitFor(t, fmt.Sprintf("claim %s bound to %s", claim, pv), func() (bool, error) {
			v, err := c.Volumes().Get(ctx, "default", claim)
			if err != nil {
				return false, err
			}
			p, err := c.PersistentVolumes().Get(ctx, "", pv)
			if err != nil {
				return false, err
			}
			ref := p.GetSpec().GetClaimRef()
			return v.GetSpec().GetVolumeName() == pv && v.GetStatus().GetPhase() == skiffv1.VolumeBound &&
				v.GetStatus().GetCapacity() == p.GetSpec().GetCapacity()["storage"] &&
				ref.GetName() == claim && ref.GetNamespace() == "default" && ref.GetUid() == v.GetMetadata().GetUid() &&
				p.GetStatus().GetPhase() == skiffv1.VolumeBound, nil
		})
	}
	bound("early", "pv-10g")
	if p, err := c.PersistentVolumes().Get(ctx, "", "pv-1g"); err != nil || p.GetStatus().GetPhase() != skiffv1.VolumeAvailable {
		t.Fatalf("an unbound volume: %v, %v", p.GetStatus(), err)
	}

	// Two claims racing for the one volume left that fits: one gets it,
	// the other waits; never both.
	var wg sync.WaitGroup
	for _, n := range []string{"racer-a", "racer-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Volumes().Create(ctx, classClaim(n, "manual", "2Gi")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var winner, loser string
	waitFor(t, "one racer bound to pv-20g", func() (bool, error) {
		p, err := c.PersistentVolumes().Get(ctx, "", "pv-20g")
		if err != nil {
			return false, err
		}
		winner = p.GetSpec().GetClaimRef().GetName()
		return winner != "", nil
	})
	loser = map[string]string{"racer-a": "racer-b", "racer-b": "racer-a"}[winner]
	bound(winner, "pv-20g")
	waitFor(t, "the other racer told it waits", func() (bool, error) {
		evs, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
		for _, e := range evs {
			if e.GetInvolvedObject().GetName() == loser && e.GetReason() == "FailedBinding" {
				return true, nil
			}
		}
		return false, err
	})
	if v, err := c.Volumes().Get(ctx, "default", loser); err != nil || v.GetSpec().GetVolumeName() != "" || v.GetStatus().GetPhase() != skiffv1.VolumePending {
		t.Fatalf("the loser: %v %v, %v", v.GetSpec(), v.GetStatus(), err)
	}

	// Deleting a claim of a Retain volume: Released, and not bound again.
	if _, _, err := c.Volumes().Delete(ctx, "default", "early", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pv-10g Released", func() (bool, error) {
		p, err := c.PersistentVolumes().Get(ctx, "", "pv-10g")
		return p.GetStatus().GetPhase() == skiffv1.VolumeReleased, err
	})
	if v, err := c.Volumes().Get(ctx, "default", loser); err != nil || v.GetSpec().GetVolumeName() != "" {
		t.Fatalf("a claim took a Released volume: %v, %v", v.GetSpec(), err)
	}
	// The admin clears its claimRef: Available again, and the waiting
	// claim takes it.
	if _, err := c.PersistentVolumes().Modify(ctx, "", "pv-10g", func(p *skiffv1.PersistentVolume) error {
		p.Spec.ClaimRef = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bound(loser, "pv-10g")

	// Deleting the claim of a Delete volume deletes the volume.
	if _, _, err := c.Volumes().Delete(ctx, "default", winner, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pv-20g deleted with its claim", func() (bool, error) {
		_, err := c.PersistentVolumes().Get(ctx, "", "pv-20g")
		return client.IsNotFound(err), nil
	})

	// A Volume with its own source is Bound at once.
	if _, err := c.Volumes().Create(ctx, &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: "own", Namespace: "default"}, Spec: &skiffv1.VolumeSpec{Capacity: "1Gi"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a local Volume Bound", func() (bool, error) {
		v, err := c.Volumes().Get(ctx, "default", "own")
		return v.GetSpec().GetLocal() != nil && v.GetStatus().GetPhase() == skiffv1.VolumeBound, err
	})
}

// TestPersistentVolumeValidation: bad PersistentVolumes are refused with
// the field named.
func TestPersistentVolumeValidation(t *testing.T) {
	srv := apitest.Start(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		name   string
		change func(*skiffv1.PersistentVolume)
		want   string
	}{
		{"no capacity", func(p *skiffv1.PersistentVolume) { p.Spec.Capacity = nil }, "spec.capacity.storage: required"},
		{"bad quantity", func(p *skiffv1.PersistentVolume) { p.Spec.Capacity["storage"] = "lots" }, "spec.capacity.storage"},
		{"no source", func(p *skiffv1.PersistentVolume) { p.Spec.HostPath = nil }, "exactly one of hostPath or local"},
		{"relative path", func(p *skiffv1.PersistentVolume) { p.Spec.HostPath.Path = "data" }, "spec.hostPath.path"},
		{"local without node affinity", func(p *skiffv1.PersistentVolume) {
			p.Spec.HostPath = nil
			p.Spec.Local = &skiffv1.LocalPersistentVolumeSource{Path: "/mnt/disk"}
		}, "spec.nodeAffinity.required"},
		{"ReadOnlyMany", func(p *skiffv1.PersistentVolume) { p.Spec.AccessModes = []string{"ReadOnlyMany"} }, "spec.accessModes[0]: ReadOnlyMany is not supported by skiff yet"},
		{"Recycle", func(p *skiffv1.PersistentVolume) { p.Spec.PersistentVolumeReclaimPolicy = "Recycle" }, "spec.persistentVolumeReclaimPolicy"},
		{"claimRef without name", func(p *skiffv1.PersistentVolume) { p.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "default"} }, "spec.claimRef.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := hostPathPV("bad", "", "1Gi", "")
			tc.change(pv)
			_, err := srv.Client.PersistentVolumes().Create(ctx, pv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create = %v; want an error containing %q", err, tc.want)
			}
		})
	}
	pv, err := srv.Client.PersistentVolumes().Create(ctx, hostPathPV("good", "", "1Gi", ""))
	if err != nil {
		t.Fatal(err)
	}
	if pv.GetSpec().GetPersistentVolumeReclaimPolicy() != skiffv1.ReclaimRetain || pv.GetSpec().GetVolumeMode() != "Filesystem" || pv.GetMetadata().GetNamespace() != "" {
		t.Errorf("defaults: %v, namespace %q", pv.GetSpec(), pv.GetMetadata().GetNamespace())
	}
	pv.Spec.HostPath.Path = "/elsewhere"
	if _, err := srv.Client.PersistentVolumes().Update(ctx, pv); err == nil || !strings.Contains(err.Error(), "source") {
		t.Errorf("changing the source: %v", err)
	}
}

// A PersistentVolume an admin reserves by name (claimRef without a uid)
// for a claim that is, for now, bound elsewhere keeps its reservation, as
// Kubernetes keeps a pre-bound volume: deleting the claim and making it
// again is how it moves to that volume.
func TestPreBoundVolumeKeptWhileItsClaimIsBoundElsewhere(t *testing.T) {
	srv := apitest.Start(t)
	startManager(t, srv)
	ctx := ctxT(t)
	c := srv.Client
	if _, err := c.PersistentVolumes().Create(ctx, hostPathPV("old", "manual", "1Gi", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Volumes().Create(ctx, classClaim("db", "manual", "1Gi")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "db bound to old", func() (bool, error) {
		v, err := c.Volumes().Get(ctx, "default", "db")
		return v.GetSpec().GetVolumeName() == "old" && v.GetStatus().GetPhase() == skiffv1.VolumeBound, err
	})
	reserved := hostPathPV("reserved", "manual", "1Gi", "")
	reserved.Spec.ClaimRef = &skiffv1.ObjectReference{Namespace: "default", Name: "db"}
	if _, err := c.PersistentVolumes().Create(ctx, reserved); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reserved Available", func() (bool, error) {
		p, err := c.PersistentVolumes().Get(ctx, "", "reserved")
		return p.GetStatus().GetPhase() == skiffv1.VolumeAvailable, err
	})
	if p, err := c.PersistentVolumes().Get(ctx, "", "reserved"); err != nil || p.GetSpec().GetClaimRef().GetName() != "db" {
		t.Fatalf("the admin's reservation for default/db was dropped: %v, %v", p.GetSpec().GetClaimRef(), err)
	}
	if _, _, err := c.Volumes().Delete(ctx, "default", "db", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "db gone", func() (bool, error) {
		_, err := c.Volumes().Get(ctx, "default", "db")
		return client.IsNotFound(err), nil
	})
	again, err := c.Volumes().Create(ctx, classClaim("db", "manual", "1Gi"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new db bound to reserved", func() (bool, error) {
		v, err := c.Volumes().Get(ctx, "default", "db")
		if err != nil {
			return false, err
		}
		p, err := c.PersistentVolumes().Get(ctx, "", "reserved")
		return v.GetSpec().GetVolumeName() == "reserved" && p.GetSpec().GetClaimRef().GetUid() == again.GetMetadata().GetUid(), err
	})
}
