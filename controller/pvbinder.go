package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// volumeBinder is Kubernetes' PersistentVolume controller for skiff: it
// binds each claim (a Volume without a source of its own) to a fitting
// PersistentVolume, keeps both sides' phases, and reclaims a volume whose
// claim is deleted (Retain: Released; Delete: the PersistentVolume goes).
//
// A binding is two writes, each a compare-and-swap: first the
// PersistentVolume's claimRef (the volume is what two claims could race
// for, and its resourceVersion settles it), then the claim's volumeName.
// A binder stopped between the two leaves a volume reserved for the claim
// by uid; the next sync of either side finishes the binding, so the pair
// is never left half-bound. Volumes with a source of their own (local
// storage, hostPath, nfs) are Bound from the start.
type volumeBinder struct {
	c      *client.Client
	claims *client.SharedInformer[*skiffv1.Volume]
	pvs    *client.SharedInformer[*skiffv1.PersistentVolume]
	rec    *recorder
	log    *slog.Logger
	r      *reconciler

	mu sync.Mutex
	// waiting holds the claims (by uid) told why they wait, so the event
	// is written once, not on every resync.
	waiting map[string]string
}

// Keys of the binder's queue: claims are "claim/NS/NAME", volumes "pv/NAME".
const (
	claimKeyPrefix = "claim/"
	pvKeyPrefix    = "pv/"
)

func newVolumeBinder(cfg *Config, inf *informers, m *metrics, rec *recorder) *volumeBinder {
	b := &volumeBinder{
		c: cfg.Client, claims: inf.volumes, pvs: inf.pvs, rec: rec,
		log: cfg.Logger.With("controller", namePersistentVolume), waiting: map[string]string{},
	}
	b.r = newReconciler(namePersistentVolume, cfg.Workers, cfg.Logger, m, b.sync)
	inf.volumes.AddHandler(client.Handler[*skiffv1.Volume]{
		OnAdd:    func(v *skiffv1.Volume) { b.r.queue.Add(claimKeyPrefix + client.KeyOf(v)) },
		OnUpdate: func(_, v *skiffv1.Volume) { b.r.queue.Add(claimKeyPrefix + client.KeyOf(v)) },
		OnDelete: func(v *skiffv1.Volume) {
			b.mu.Lock()
			delete(b.waiting, v.GetMetadata().GetUid())
			b.mu.Unlock()
			if n := v.GetSpec().GetVolumeName(); n != "" {
				b.r.queue.Add(pvKeyPrefix + n)
			}
			// A volume reserved for it but not yet named by it.
			for _, pv := range b.pvs.List() {
				if claimRefersTo(pv, v) {
					b.r.queue.Add(pvKeyPrefix + pv.GetMetadata().GetName())
				}
			}
		},
	})
	inf.pvs.AddHandler(client.Handler[*skiffv1.PersistentVolume]{
		OnAdd:    b.pvChanged,
		OnUpdate: func(_, pv *skiffv1.PersistentVolume) { b.pvChanged(pv) },
		OnDelete: func(pv *skiffv1.PersistentVolume) {
			if ref := pv.GetSpec().GetClaimRef(); ref != nil {
				b.r.queue.Add(claimKeyPrefix + client.Key(ref.GetNamespace(), ref.GetName()))
			}
		},
	})
	return b
}

// binderResync is how often every PersistentVolume is synced again, as
// Kubernetes' PersistentVolume controller does every 15 s: a missed or
// failed event (a claim's deletion seen before its volume's cache caught
// up) is made good within one period.
const binderResync = 15 * time.Second

// resync queues every PersistentVolume, and the claims still waiting,
// each period.
func (b *volumeBinder) resync(ctx context.Context) {
	t := time.NewTicker(binderResync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, pv := range b.pvs.List() {
				b.r.queue.Add(pvKeyPrefix + pv.GetMetadata().GetName())
			}
			b.queueWaitingClaims()
		}
	}
}

// pvChanged queues the volume, and the claims still waiting: the volume
// may now fit one of them.
func (b *volumeBinder) pvChanged(pv *skiffv1.PersistentVolume) {
	b.r.queue.Add(pvKeyPrefix + pv.GetMetadata().GetName())
	b.queueWaitingClaims()
}

// queueWaitingClaims queues every claim not bound yet.
func (b *volumeBinder) queueWaitingClaims() {
	for _, v := range b.claims.List() {
		if isClaim(v) && v.GetStatus().GetPhase() != skiffv1.VolumeBound {
			b.r.queue.Add(claimKeyPrefix + client.KeyOf(v))
		}
	}
}

func (b *volumeBinder) sync(ctx context.Context, key string) error {
	if k, ok := strings.CutPrefix(key, claimKeyPrefix); ok {
		return b.syncClaim(ctx, k)
	}
	if k, ok := strings.CutPrefix(key, pvKeyPrefix); ok {
		return b.syncVolume(ctx, k)
	}
	return nil
}

func (b *volumeBinder) syncClaim(ctx context.Context, key string) error {
	claim, ok := b.claims.Get(key)
	if !ok || claim.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	if !isClaim(claim) {
		// Its own storage: bound to itself from the start.
		s := claim.GetSpec()
		return b.setClaimStatus(ctx, claim, skiffv1.VolumeBound, s.GetCapacity(), claimMode(claim))
	}
	var pv *skiffv1.PersistentVolume
	if n := claim.GetSpec().GetVolumeName(); n != "" {
		pv, ok = b.pvs.Get(n)
		if !ok {
			if claim.GetStatus().GetPhase() == skiffv1.VolumeBound {
				b.rec.event(ctx, "Volume", claim, "Warning", "ClaimLost", "Bound claim has lost reference to PersistentVolume %q. Data on the volume is lost!", n)
				return b.setClaimStatus(ctx, claim, skiffv1.VolumeLost, "", "")
			}
			b.tellWaiting(ctx, claim, "VolumeMismatch", fmt.Sprintf("waiting for PersistentVolume %q to be created", n))
			return b.setClaimStatus(ctx, claim, skiffv1.VolumePending, "", "")
		}
		if claimRefersTo(pv, claim) && pv.GetSpec().GetClaimRef().GetUid() != "" {
			return b.finishBound(ctx, claim, pv)
		}
		if pv.GetSpec().GetClaimRef() != nil && !claimRefersTo(pv, claim) {
			if claim.GetStatus().GetPhase() == skiffv1.VolumeBound {
				b.rec.event(ctx, "Volume", claim, "Warning", "ClaimMisbound", "PersistentVolume %q is bound to another claim", n)
				return b.setClaimStatus(ctx, claim, skiffv1.VolumeLost, "", "")
			}
			b.tellWaiting(ctx, claim, "FailedBinding", fmt.Sprintf("volume %q already bound to a different claim", n))
			return b.setClaimStatus(ctx, claim, skiffv1.VolumePending, "", "")
		}
	}
	pv = matchVolume(claim, b.pvs.List())
	if pv == nil {
		b.tellWaiting(ctx, claim, "FailedBinding", noVolumeMessage(claim))
		return b.setClaimStatus(ctx, claim, skiffv1.VolumePending, "", "")
	}
	return b.bind(ctx, claim, pv)
}

// noVolumeMessage is why an unbound claim waits, as Kubernetes says it.
func noVolumeMessage(claim *skiffv1.Volume) string {
	if n := claim.GetSpec().GetVolumeName(); n != "" {
		return fmt.Sprintf("PersistentVolume %q does not fit this claim (storage class, access mode or capacity)", n)
	}
	if c := claim.GetSpec().GetStorageClassName(); c != "" {
		return fmt.Sprintf("no persistent volumes available for this claim in storage class %q (skiff provisions no volumes of a named class: create a PersistentVolume)", c)
	}
	return "no persistent volumes available for this claim and no storage class is set"
}

// tellWaiting records once per claim and message why it waits.
func (b *volumeBinder) tellWaiting(ctx context.Context, claim *skiffv1.Volume, reason, msg string) {
	uid := claim.GetMetadata().GetUid()
	b.mu.Lock()
	told := b.waiting[uid] == msg
	b.waiting[uid] = msg
	b.mu.Unlock()
	if !told {
		b.rec.event(ctx, "Volume", claim, "Warning", reason, "%s", msg)
	}
}

// bind writes the volume's claimRef, then the claim's volumeName.
func (b *volumeBinder) bind(ctx context.Context, claim *skiffv1.Volume, pv *skiffv1.PersistentVolume) error {
	m := claim.GetMetadata()
	name := pv.GetMetadata().GetName()
	pv, err := b.c.PersistentVolumes().Modify(ctx, "", name, func(cur *skiffv1.PersistentVolume) error {
		// The cache may be behind: decide on what is stored.
		if !volumeFits(claim, cur) {
			return fmt.Errorf("PersistentVolume %s no longer fits claim %s/%s", name, m.GetNamespace(), m.GetName())
		}
		if cur.GetSpec().GetClaimRef().GetUid() == m.GetUid() {
			return client.ErrNoChange
		}
		cur.Spec.ClaimRef = &skiffv1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reserve PersistentVolume %s for %s/%s: %w", name, m.GetNamespace(), m.GetName(), err)
	}
	return b.finishBound(ctx, claim, pv)
}

// finishBound completes a binding whose volume side is written: the
// claim's volumeName, then both phases.
func (b *volumeBinder) finishBound(ctx context.Context, claim *skiffv1.Volume, pv *skiffv1.PersistentVolume) error {
	m := claim.GetMetadata()
	name := pv.GetMetadata().GetName()
	claim, err := b.c.Volumes().Modify(ctx, m.GetNamespace(), m.GetName(), func(cur *skiffv1.Volume) error {
		if cur.GetMetadata().GetUid() != m.GetUid() {
			return fmt.Errorf("claim %s/%s was replaced", m.GetNamespace(), m.GetName())
		}
		switch cur.GetSpec().GetVolumeName() {
		case name:
			return client.ErrNoChange
		case "":
			cur.Spec.VolumeName = name
			return nil
		}
		return fmt.Errorf("claim %s/%s was bound to %q meanwhile", m.GetNamespace(), m.GetName(), cur.GetSpec().GetVolumeName())
	})
	if err != nil {
		return fmt.Errorf("bind claim %s/%s to %s: %w", m.GetNamespace(), m.GetName(), name, err)
	}
	if err := b.setVolumePhase(ctx, pv, skiffv1.VolumeBound, ""); err != nil {
		return err
	}
	if claim.GetStatus().GetPhase() != skiffv1.VolumeBound {
		b.rec.event(ctx, "Volume", claim, "Normal", "Bound", "Bound to PersistentVolume %s", name)
	}
	b.mu.Lock()
	delete(b.waiting, m.GetUid())
	b.mu.Unlock()
	mode := claimMode(claim)
	return b.setClaimStatus(ctx, claim, skiffv1.VolumeBound, pv.GetSpec().GetCapacity()["storage"], mode)
}

func (b *volumeBinder) setClaimStatus(ctx context.Context, claim *skiffv1.Volume, phase, capacity, mode string) error {
	st := claim.GetStatus()
	if st.GetPhase() == phase && st.GetCapacity() == capacity && st.GetAccessMode() == mode {
		return nil
	}
	m := claim.GetMetadata()
	_, err := b.c.Volumes().ModifyStatus(ctx, m.GetNamespace(), m.GetName(), func(cur *skiffv1.Volume) error {
		if cur.GetMetadata().GetUid() != m.GetUid() {
			return client.ErrNoChange
		}
		if cur.Status == nil {
			cur.Status = &skiffv1.VolumeStatus{}
		}
		cur.Status.Phase, cur.Status.Capacity, cur.Status.AccessMode = phase, capacity, mode
		return nil
	})
	if client.IsNotFound(err) {
		return nil
	}
	return err
}

func (b *volumeBinder) setVolumePhase(ctx context.Context, pv *skiffv1.PersistentVolume, phase, message string) error {
	if st := pv.GetStatus(); st.GetPhase() == phase && st.GetMessage() == message {
		return nil
	}
	_, err := b.c.PersistentVolumes().ModifyStatus(ctx, "", pv.GetMetadata().GetName(), func(cur *skiffv1.PersistentVolume) error {
		if cur.GetStatus().GetPhase() == phase && cur.GetStatus().GetMessage() == message {
			return client.ErrNoChange
		}
		if cur.Status == nil {
			cur.Status = &skiffv1.PersistentVolumeStatus{}
		}
		if cur.Status.Phase != phase {
			cur.Status.LastPhaseTransitionTime = timestamppb.Now()
		}
		cur.Status.Phase, cur.Status.Message = phase, message
		return nil
	})
	if client.IsNotFound(err) {
		return nil
	}
	return err
}

func (b *volumeBinder) syncVolume(ctx context.Context, name string) error {
	pv, ok := b.pvs.Get(name)
	if !ok || pv.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	ref := pv.GetSpec().GetClaimRef()
	if ref == nil {
		return b.setVolumePhase(ctx, pv, skiffv1.VolumeAvailable, "")
	}
	claim, err := b.c.Volumes().Get(ctx, ref.GetNamespace(), ref.GetName())
	switch {
	case client.IsNotFound(err):
		claim = nil
	case err != nil:
		return err
	}
	if claim != nil && claimRefersTo(pv, claim) {
		switch claim.GetSpec().GetVolumeName() {
		case name:
			if ref.GetUid() == "" {
				// Named by the claim and reserved by name: the claim's
				// sync writes the uid.
				b.r.queue.Add(claimKeyPrefix + client.KeyOf(claim))
				return nil
			}
			return b.setVolumePhase(ctx, pv, skiffv1.VolumeBound, "")
		case "":
			// Reserved, the claim side not written yet: the claim's sync
			// finishes it. Until then, as Kubernetes shows a volume
			// reserved for a claim by name, Available.
			b.r.queue.Add(claimKeyPrefix + client.KeyOf(claim))
			if ref.GetUid() == "" {
				return b.setVolumePhase(ctx, pv, skiffv1.VolumeAvailable, "")
			}
			return nil
		}
		if ref.GetUid() == "" {
			// Reserved by name by an admin for a claim bound elsewhere
			// for now: kept, as Kubernetes keeps a pre-bound volume (a
			// claim deleted and made again takes it).
			return b.setVolumePhase(ctx, pv, skiffv1.VolumeAvailable, "")
		}
		// The claim went to another volume: this reservation is void.
		return b.release(ctx, pv, fmt.Sprintf("claim %s/%s is bound to %s", ref.GetNamespace(), ref.GetName(), claim.GetSpec().GetVolumeName()))
	}
	if ref.GetUid() == "" {
		// Reserved by name for a claim not made yet.
		return b.setVolumePhase(ctx, pv, skiffv1.VolumeAvailable, "")
	}
	// The claim it was bound to is gone.
	return b.reclaim(ctx, pv)
}

// release clears a reservation that never became a binding.
func (b *volumeBinder) release(ctx context.Context, pv *skiffv1.PersistentVolume, why string) error {
	uid := pv.GetSpec().GetClaimRef().GetUid()
	_, err := b.c.PersistentVolumes().Modify(ctx, "", pv.GetMetadata().GetName(), func(cur *skiffv1.PersistentVolume) error {
		if cur.GetSpec().GetClaimRef().GetUid() != uid {
			return client.ErrNoChange
		}
		cur.Spec.ClaimRef = nil
		return nil
	})
	if err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("release PersistentVolume %s (%s): %w", pv.GetMetadata().GetName(), why, err)
	}
	return nil
}

// reclaim applies the reclaim policy of a volume whose claim was deleted.
func (b *volumeBinder) reclaim(ctx context.Context, pv *skiffv1.PersistentVolume) error {
	name := pv.GetMetadata().GetName()
	ref := pv.GetSpec().GetClaimRef()
	switch pv.GetSpec().GetPersistentVolumeReclaimPolicy() {
	case skiffv1.ReclaimDelete:
		// pv comes from the cache, which may be behind: a volume of this
		// name made again since, or this one given to another claim, must
		// not go. Decide on what is stored and delete exactly that.
		cur, err := b.c.PersistentVolumes().Get(ctx, "", name)
		if client.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.GetMetadata().GetUid() != pv.GetMetadata().GetUid() || cur.GetSpec().GetClaimRef().GetUid() != ref.GetUid() ||
			cur.GetSpec().GetPersistentVolumeReclaimPolicy() != skiffv1.ReclaimDelete {
			// Its update event brings it back to the binder.
			return nil
		}
		opts := client.DeleteOptions{UID: cur.GetMetadata().GetUid()}
		if _, _, err := b.c.PersistentVolumes().Delete(ctx, "", name, opts); err != nil && !client.IsNotFound(err) {
			return fmt.Errorf("delete PersistentVolume %s: %w", name, err)
		}
		b.log.Info("deleted PersistentVolume whose claim is gone", "pv", name, "claim", ref.GetNamespace()+"/"+ref.GetName())
		return nil
	default:
		if pv.GetStatus().GetPhase() != skiffv1.VolumeReleased {
			b.rec.event(ctx, "PersistentVolume", pv, "Normal", "VolumeReleased", "claim %s/%s was deleted; the volume keeps its data (Retain) until its claimRef is removed", ref.GetNamespace(), ref.GetName())
		}
		return b.setVolumePhase(ctx, pv, skiffv1.VolumeReleased, fmt.Sprintf("claim %s/%s was deleted", ref.GetNamespace(), ref.GetName()))
	}
}
