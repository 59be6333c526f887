package controller

import (
	"slices"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// isClaim reports whether a Volume is a claim: no source of its own, so
// its data lives on the PersistentVolume it is bound to.
func isClaim(v *skiffv1.Volume) bool {
	s := v.GetSpec()
	return s.GetLocal() == nil && s.GetHostPath() == nil && s.GetNfs() == nil
}

// claimRefersTo reports whether pv's claimRef names claim: by namespace
// and name, and by uid unless the reference has none (a PersistentVolume
// reserved for a claim by name, before it exists).
func claimRefersTo(pv *skiffv1.PersistentVolume, claim *skiffv1.Volume) bool {
	ref := pv.GetSpec().GetClaimRef()
	m := claim.GetMetadata()
	if ref == nil || ref.GetName() != m.GetName() || ref.GetNamespace() != m.GetNamespace() {
		return false
	}
	return ref.GetUid() == "" || ref.GetUid() == m.GetUid()
}

// storageOf is a PersistentVolume's capacity; ok is false when it has none
// that parses (validation keeps that from happening).
func storageOf(pv *skiffv1.PersistentVolume) (quantity.Quantity, bool) {
	q, err := quantity.Parse(pv.GetSpec().GetCapacity()["storage"])
	return q, err == nil
}

// claimMode is a claim's access mode, ReadWriteOnce when unset.
func claimMode(claim *skiffv1.Volume) string {
	if m := claim.GetSpec().GetAccessMode(); m != "" {
		return m
	}
	return "ReadWriteOnce"
}

// volumeFits reports whether pv can hold claim, as Kubernetes' binder
// decides: the same storage class ("" only matches ""), the claim's access
// mode among the volume's, at least the capacity it requests, and the
// volume not being deleted nor bound or reserved for another claim.
func volumeFits(claim *skiffv1.Volume, pv *skiffv1.PersistentVolume) bool {
	s := pv.GetSpec()
	if pv.GetMetadata().GetDeletionTimestamp() != nil {
		return false
	}
	if s.GetClaimRef() != nil && !claimRefersTo(pv, claim) {
		return false
	}
	if s.GetStorageClassName() != claim.GetSpec().GetStorageClassName() {
		return false
	}
	if !slices.Contains(s.GetAccessModes(), claimMode(claim)) {
		return false
	}
	have, ok := storageOf(pv)
	if !ok {
		return false
	}
	if c := claim.GetSpec().GetCapacity(); c != "" {
		want, err := quantity.Parse(c)
		if err != nil || have.Cmp(want) < 0 {
			return false
		}
	}
	return true
}

// matchVolume picks the PersistentVolume for an unbound claim: the one the
// claim names (spec.volumeName) if it fits, else one already reserved for
// the claim by its claimRef, else the smallest fitting one that is free
// (ties broken by name, so every binder picks the same). nil when none fits.
func matchVolume(claim *skiffv1.Volume, pvs []*skiffv1.PersistentVolume) *skiffv1.PersistentVolume {
	if want := claim.GetSpec().GetVolumeName(); want != "" {
		for _, pv := range pvs {
			if pv.GetMetadata().GetName() == want && volumeFits(claim, pv) {
				return pv
			}
		}
		return nil
	}
	var best *skiffv1.PersistentVolume
	var bestSize quantity.Quantity
	for _, pv := range pvs {
		if !volumeFits(claim, pv) {
			continue
		}
		// A volume reserved for this claim wins over any free one.
		if pv.GetSpec().GetClaimRef() != nil {
			return pv
		}
		// A volume whose claim went away (Released) waits for its admin.
		if pv.GetStatus().GetPhase() == skiffv1.VolumeReleased {
			continue
		}
		size, _ := storageOf(pv)
		if best == nil || size.Cmp(bestSize) < 0 || (size.Cmp(bestSize) == 0 && pv.GetMetadata().GetName() < best.GetMetadata().GetName()) {
			best, bestSize = pv, size
		}
	}
	return best
}
