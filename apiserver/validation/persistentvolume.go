package validation

import (
	"strings"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// defaultPersistentVolume fills what Kubernetes defaults on a
// PersistentVolume: Retain for a volume made by hand, Filesystem.
func defaultPersistentVolume(o *skiffv1.PersistentVolume) {
	if o.Spec == nil {
		o.Spec = &skiffv1.PersistentVolumeSpec{}
	}
	if o.Spec.PersistentVolumeReclaimPolicy == "" {
		o.Spec.PersistentVolumeReclaimPolicy = skiffv1.ReclaimRetain
	}
	if o.Spec.VolumeMode == "" {
		o.Spec.VolumeMode = "Filesystem"
	}
	if r := o.Spec.ClaimRef; r != nil && r.Kind == "" {
		r.Kind = "PersistentVolumeClaim"
	}
}

func validatePersistentVolume(e *errs, s *skiffv1.PersistentVolumeSpec) {
	if len(s.GetCapacity()) == 0 {
		e.add("spec.capacity.storage", "required")
	}
	for k, v := range s.GetCapacity() {
		if k != "storage" {
			e.add("spec.capacity."+k, "a PersistentVolume has only storage")
			continue
		}
		checkQuantity(e, "spec.capacity.storage", v)
	}
	if len(s.GetAccessModes()) == 0 {
		e.add("spec.accessModes", "at least one access mode is required")
	}
	for i, m := range s.GetAccessModes() {
		switch m {
		case "ReadWriteOnce", "ReadWriteMany":
		case "ReadOnlyMany", "ReadWriteOncePod":
			e.add(idx("spec.accessModes", i), "%s is not supported by skiff yet; give ReadWriteOnce or ReadWriteMany", m)
		default:
			e.add(idx("spec.accessModes", i), "%q is not an access mode; give ReadWriteOnce or ReadWriteMany", m)
		}
	}
	if c := s.GetStorageClassName(); c != "" {
		checkSubdomain(e, "spec.storageClassName", c)
	}
	switch p := s.GetPersistentVolumeReclaimPolicy(); p {
	case skiffv1.ReclaimRetain, skiffv1.ReclaimDelete:
	case "Recycle":
		e.add("spec.persistentVolumeReclaimPolicy", "Recycle is deprecated in Kubernetes and not supported by skiff; give Retain or Delete")
	default:
		e.add("spec.persistentVolumeReclaimPolicy", "%q is not one of Retain, Delete", p)
	}
	checkOneOf(e, "spec.volumeMode", s.GetVolumeMode(), "Filesystem")
	sources := 0
	if h := s.GetHostPath(); h != nil {
		sources++
		checkHostPath(e, "spec.hostPath", h)
	}
	if l := s.GetLocal(); l != nil {
		sources++
		if !strings.HasPrefix(l.GetPath(), "/") {
			e.add("spec.local.path", "%q must be an absolute path", l.GetPath())
		}
		if s.GetNodeAffinity().GetRequired() == nil {
			e.add("spec.nodeAffinity.required", "required for a local volume: the node(s) that hold it")
		}
	}
	if sources != 1 {
		e.add("spec", "exactly one of hostPath or local must be set")
	}
	if na := s.GetNodeAffinity(); na != nil {
		if na.GetRequired() == nil {
			e.add("spec.nodeAffinity.required", "required when nodeAffinity is set")
		} else {
			// The same rules as a pod's required node affinity.
			sub := errs{}
			validateAffinity(&sub, "x", &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: na.GetRequired()}})
			for _, fe := range sub.list {
				fe.Path = "spec.nodeAffinity.required" + strings.TrimPrefix(fe.Path, "x.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution")
				e.list = append(e.list, fe)
			}
		}
	}
	if r := s.GetClaimRef(); r != nil {
		checkOneOf(e, "spec.claimRef.kind", r.GetKind(), "PersistentVolumeClaim", "Volume")
		checkSubdomain(e, "spec.claimRef.name", r.GetName())
		checkLabel(e, "spec.claimRef.namespace", r.GetNamespace())
	}
}

// validatePersistentVolumeUpdate: as in Kubernetes, the source is fixed
// once created (the data lives there), and so is the node affinity.
func validatePersistentVolumeUpdate(e *errs, prev, o *skiffv1.PersistentVolume) {
	if !proto.Equal(prev.GetSpec().GetHostPath(), o.GetSpec().GetHostPath()) || !proto.Equal(prev.GetSpec().GetLocal(), o.GetSpec().GetLocal()) {
		e.add("spec", "a PersistentVolume's source (hostPath, local) cannot change")
	}
	if !proto.Equal(prev.GetSpec().GetNodeAffinity(), o.GetSpec().GetNodeAffinity()) {
		e.add("spec.nodeAffinity", "cannot change")
	}
	if prev.GetSpec().GetVolumeMode() != o.GetSpec().GetVolumeMode() {
		e.add("spec.volumeMode", "cannot change")
	}
}
