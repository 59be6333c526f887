package validation

import (
	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// ValidateUpdate checks what may not change between the stored object and
// its replacement (both defaulted).
func ValidateUpdate(old, obj skiffv1.Resource) error {
	e := &errs{}
	switch o := obj.(type) {
	case *skiffv1.Pod:
		prev := old.(*skiffv1.Pod)
		// Like Kubernetes, a pod's spec is fixed once created, except the
		// images: anything else means a new pod.
		a, b := clonePodSpec(prev.GetSpec()), clonePodSpec(o.GetSpec())
		// A pod stored before a default was added compares as defaulted.
		DefaultPodSpec(a)
		for i := range a.Containers {
			if i < len(b.Containers) {
				a.Containers[i].Image = b.Containers[i].Image
			}
		}
		if !proto.Equal(a, b) {
			e.add("spec", "a pod's spec cannot change except spec.containers[*].image; delete the pod and create it again (or use a replica set)")
		}
	case *skiffv1.Volume:
		prev := old.(*skiffv1.Volume)
		if prev.GetSpec().GetAccessMode() != o.GetSpec().GetAccessMode() {
			e.add("spec.accessMode", "cannot change")
		}
		if pn := prev.GetSpec().GetLocal().GetNodeName(); pn != "" && pn != o.GetSpec().GetLocal().GetNodeName() {
			e.add("spec.local.nodeName", "cannot change once the volume holds data on node %q", pn)
		}
		if prev.GetSpec().GetStorageClassName() != o.GetSpec().GetStorageClassName() {
			e.add("spec.storageClassName", "cannot change")
		}
		// As Kubernetes: volumeName is set once (by the binder, or by the
		// user to ask for a PersistentVolume), then fixed.
		if pv := prev.GetSpec().GetVolumeName(); pv != "" && pv != o.GetSpec().GetVolumeName() {
			e.add("spec.volumeName", "cannot change once bound to %q", pv)
		}
		if isClaim(prev.GetSpec()) != isClaim(o.GetSpec()) {
			e.add("spec", "a Volume cannot gain or lose its source (local, hostPath, nfs)")
		}
	case *skiffv1.PersistentVolume:
		validatePersistentVolumeUpdate(e, old.(*skiffv1.PersistentVolume), o)
	case *skiffv1.ConfigMap:
		prev := old.(*skiffv1.ConfigMap)
		same := equalStrings(prev.Data, o.Data) && equalBytes(prev.BinaryData, o.BinaryData)
		validateImmutableData(e, prev.GetImmutable(), same, o.GetImmutable())
	case *skiffv1.Secret:
		prev := old.(*skiffv1.Secret)
		validateImmutableData(e, prev.GetImmutable(), equalBytes(prev.Data, o.Data), o.GetImmutable())
		if prev.GetType() != o.GetType() {
			e.add("type", "cannot change (%s)", prev.GetType())
		}
	case *skiffv1.Deployment:
		// As apps/v1: the selector decides which replica sets and pods
		// are the deployment's; changing it would orphan them.
		if !proto.Equal(old.(*skiffv1.Deployment).GetSpec().GetSelector(), o.GetSpec().GetSelector()) {
			e.add("spec.selector", "cannot change; delete the deployment and create it again")
		}
	case *skiffv1.DaemonSet, *skiffv1.StatefulSet:
		validateWorkloadUpdate(e, old, obj)
	case *skiffv1.Service:
		// As Kubernetes: the implementation that serves a load balancer
		// is chosen once.
		prev, next := old.(*skiffv1.Service).GetSpec(), o.GetSpec()
		bothLB := prev.GetType() == skiffv1.ServiceTypeLoadBalancer && next.GetType() == skiffv1.ServiceTypeLoadBalancer
		sameClass := (prev.LoadBalancerClass == nil) == (next.LoadBalancerClass == nil) && prev.GetLoadBalancerClass() == next.GetLoadBalancerClass()
		if bothLB && !sameClass {
			e.add("spec.loadBalancerClass", "cannot change (%q → %q); delete the service and create it again", prev.GetLoadBalancerClass(), next.GetLoadBalancerClass())
		}
	case *skiffv1.Job:
		// As in Kubernetes: the pods made so far were made from these.
		prev := old.(*skiffv1.Job)
		if !proto.Equal(prev.GetSpec().GetSelector(), o.GetSpec().GetSelector()) {
			e.add("spec.selector", "cannot change")
		}
		if !proto.Equal(prev.GetSpec().GetTemplate(), o.GetSpec().GetTemplate()) {
			e.add("spec.template", "cannot change; delete the Job and create it again")
		}
		if prev.GetSpec().GetCompletionMode() != o.GetSpec().GetCompletionMode() {
			e.add("spec.completionMode", "cannot change")
		}
	case *skiffv1.Node:
		prev := old.(*skiffv1.Node)
		if pc := prev.GetSpec().GetPodCidr(); pc != "" && pc != o.GetSpec().GetPodCidr() {
			e.add("spec.podCIDR", "cannot change once given (%s)", pc)
		}
	}
	return e.err()
}

// clonePodSpec copies a pod spec; a missing one becomes empty.
func clonePodSpec(s *skiffv1.PodSpec) *skiffv1.PodSpec {
	if s == nil {
		return &skiffv1.PodSpec{}
	}
	return proto.Clone(s).(*skiffv1.PodSpec)
}

func equalStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func equalBytes(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || string(w) != string(v) {
			return false
		}
	}
	return true
}

// isClaim reports whether a Volume has no source of its own.
func isClaim(s *skiffv1.VolumeSpec) bool {
	return s.GetLocal() == nil && s.GetHostPath() == nil && s.GetNfs() == nil
}
