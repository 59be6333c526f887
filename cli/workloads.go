package cli

import (
	"fmt"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// daemonSetRow is `kubectl get ds`: NAME DESIRED CURRENT READY UP-TO-DATE
// AVAILABLE NODE SELECTOR AGE, and CONTAINERS IMAGES SELECTOR with -o wide.
func daemonSetRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	ds := o.(*skiffv1.DaemonSet)
	st := ds.GetStatus()
	return []string{
		ds.GetMetadata().GetName(),
		fmt.Sprint(st.GetDesiredNumberScheduled()),
		fmt.Sprint(st.GetCurrentNumberScheduled()),
		fmt.Sprint(st.GetNumberReady()),
		fmt.Sprint(st.GetUpdatedNumberScheduled()),
		fmt.Sprint(st.GetNumberAvailable()),
		orNone(formatMap(ds.GetSpec().GetTemplate().GetSpec().GetNodeSelector())),
		age(ds.GetMetadata().GetCreationTimestamp(), now),
	}, templateColumns(ds.GetSpec().GetTemplate(), ds.GetSpec().GetSelector())
}

// statefulSetRow is `kubectl get sts`: NAME READY AGE, and CONTAINERS
// IMAGES with -o wide.
func statefulSetRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	s := o.(*skiffv1.StatefulSet)
	wide := templateColumns(s.GetSpec().GetTemplate(), s.GetSpec().GetSelector())
	return []string{
		s.GetMetadata().GetName(),
		fmt.Sprintf("%d/%d", s.GetStatus().GetReadyReplicas(), desiredReplicas(s.GetSpec().Replicas)),
		age(s.GetMetadata().GetCreationTimestamp(), now),
	}, wide[:2]
}

// daemonSet is kubectl's describe layout.
func (d *describer) daemonSet(ds *skiffv1.DaemonSet) {
	spec, st := ds.GetSpec(), ds.GetStatus()
	d.kv(0, "Selector", orNone(formatSelector(spec.GetSelector())))
	d.kv(0, "Node-Selector", orNone(formatMap(spec.GetTemplate().GetSpec().GetNodeSelector())))
	d.kv(0, "Desired Number of Nodes Scheduled", st.GetDesiredNumberScheduled())
	d.kv(0, "Current Number of Nodes Scheduled", st.GetCurrentNumberScheduled())
	d.kv(0, "Number of Nodes Scheduled with Up-to-date Pods", st.GetUpdatedNumberScheduled())
	d.kv(0, "Number of Nodes Scheduled with Available Pods", st.GetNumberAvailable())
	d.kv(0, "Number of Nodes Misscheduled", st.GetNumberMisscheduled())
	d.kv(0, "Update Strategy", spec.GetUpdateStrategy().GetType())
	if ru := spec.GetUpdateStrategy().GetRollingUpdate(); ru != nil {
		d.kv(1, "Max Unavailable", ru.GetMaxUnavailable())
		d.kv(1, "Max Surge", ru.GetMaxSurge())
	}
	d.kv(0, "MinReadySeconds", spec.GetMinReadySeconds())
	d.podTemplate(spec.GetTemplate())
	d.conditions(st.GetConditions())
}

// statefulSet is kubectl's describe layout.
func (d *describer) statefulSet(s *skiffv1.StatefulSet) {
	spec, st := s.GetSpec(), s.GetStatus()
	d.kv(0, "Selector", orNone(formatSelector(spec.GetSelector())))
	d.kv(0, "Replicas", fmt.Sprintf("%d desired | %d total", desiredReplicas(spec.Replicas), st.GetReplicas()))
	d.kv(0, "Ready Replicas", st.GetReadyReplicas())
	d.kv(0, "Service Name", orNone(spec.GetServiceName()))
	d.kv(0, "Pod Management Policy", spec.GetPodManagementPolicy())
	d.kv(0, "Update Strategy", spec.GetUpdateStrategy().GetType())
	if ru := spec.GetUpdateStrategy().GetRollingUpdate(); ru != nil {
		d.kv(1, "Partition", ru.GetPartition())
	}
	d.kv(0, "Current Revision", orNone(st.GetCurrentRevision()))
	d.kv(0, "Update Revision", orNone(st.GetUpdateRevision()))
	d.kv(0, "Pods Status", fmt.Sprintf("%d Current / %d Updated / %d Ready / %d Available",
		st.GetCurrentReplicas(), st.GetUpdatedReplicas(), st.GetReadyReplicas(), st.GetAvailableReplicas()))
	rp := spec.GetPersistentVolumeClaimRetentionPolicy()
	d.kv(0, "PVC Retention Policy", fmt.Sprintf("WhenDeleted: %s, WhenScaled: %s", rp.GetWhenDeleted(), rp.GetWhenScaled()))
	d.podTemplate(spec.GetTemplate())
	if len(spec.GetVolumeClaimTemplates()) == 0 {
		d.kv(0, "Volume Claims", "<none>")
	} else {
		d.head(0, "Volume Claims")
		for _, t := range spec.GetVolumeClaimTemplates() {
			d.kv(1, "Name", t.GetMetadata().GetName())
			d.kv(1, "StorageClass", t.GetSpec().GetStorageClassName())
			d.mapping(1, "Labels", t.GetMetadata().GetLabels())
			d.kv(1, "Capacity", orNone(t.GetSpec().GetCapacity()))
			d.kv(1, "Access Modes", "["+t.GetSpec().GetAccessMode()+"]")
		}
	}
	d.conditions(st.GetConditions())
}
