package validation

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/intorpercent"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// defaultDaemonSet: Kubernetes' apps/v1 defaults (RollingUpdate with
// maxUnavailable 1 and maxSurge 0).
func defaultDaemonSet(s *skiffv1.DaemonSetSpec) {
	var replicas *int32
	defaultPodSet(&replicas, &s.Selector, s.Template)
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &skiffv1.DaemonSetUpdateStrategy{}
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = "RollingUpdate"
	}
	if s.UpdateStrategy.Type == "RollingUpdate" {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &skiffv1.RollingUpdateDaemonSet{}
		}
		ru := s.UpdateStrategy.RollingUpdate
		if ru.MaxUnavailable == "" {
			ru.MaxUnavailable = "1"
		}
		if ru.MaxSurge == "" {
			ru.MaxSurge = "0"
		}
	}
}

// defaultStatefulSet: Kubernetes' apps/v1 defaults (one replica,
// OrderedReady, RollingUpdate from partition 0, volumes retained).
// revisionHistoryLimit is left unset: skiff keeps no ControllerRevisions.
func defaultStatefulSet(s *skiffv1.StatefulSetSpec) {
	defaultPodSet(&s.Replicas, &s.Selector, s.Template)
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = "OrderedReady"
	}
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &skiffv1.StatefulSetUpdateStrategy{}
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = "RollingUpdate"
	}
	if s.UpdateStrategy.Type == "RollingUpdate" {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &skiffv1.RollingUpdateStatefulSetStrategy{}
		}
		if s.UpdateStrategy.RollingUpdate.Partition == nil {
			zero := int32(0)
			s.UpdateStrategy.RollingUpdate.Partition = &zero
		}
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &skiffv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := s.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = "Retain"
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = "Retain"
	}
	for _, t := range s.VolumeClaimTemplates {
		if t.Spec == nil {
			t.Spec = &skiffv1.VolumeSpec{}
		}
		if t.Spec.AccessMode == "" {
			t.Spec.AccessMode = "ReadWriteOnce"
		}
		if t.Spec.Local == nil && t.Spec.HostPath == nil && t.Spec.Nfs == nil {
			t.Spec.Local = &skiffv1.LocalVolumeSource{}
		}
	}
}

func validateDaemonSet(e *errs, s *skiffv1.DaemonSetSpec) {
	validatePodSet(e, "daemon set", 0, s.GetSelector(), s.GetTemplate())
	if r := s.GetTemplate().GetSpec().GetRestartPolicy(); r != "" && r != "Always" {
		e.add("spec.template.spec.restartPolicy", "%q: a daemon set's pods run for good; only Always", r)
	}
	if s.GetMinReadySeconds() < 0 {
		e.add("spec.minReadySeconds", "%d must not be negative", s.GetMinReadySeconds())
	}
	checkNoRevisionHistory(e, s.RevisionHistoryLimit)
	st := s.GetUpdateStrategy()
	checkOneOf(e, "spec.updateStrategy.type", st.GetType(), "RollingUpdate", "OnDelete")
	ru := st.GetRollingUpdate()
	if st.GetType() != "RollingUpdate" {
		if ru != nil {
			e.add("spec.updateStrategy.rollingUpdate", "must be left out when the update strategy is %s", st.GetType())
		}
		return
	}
	surge, errS := intorpercent.Parse(ru.GetMaxSurge())
	if errS != nil {
		e.add("spec.updateStrategy.rollingUpdate.maxSurge", "%v", errS)
	}
	unavail, errU := intorpercent.Parse(ru.GetMaxUnavailable())
	if errU != nil {
		e.add("spec.updateStrategy.rollingUpdate.maxUnavailable", "%v", errU)
	}
	if errS != nil || errU != nil {
		return
	}
	switch {
	case surge.Int() == 0 && unavail.Int() == 0:
		e.add("spec.updateStrategy.rollingUpdate.maxUnavailable", "may not be 0 when maxSurge is 0 too: the update could never progress")
	case surge.Int() != 0 && unavail.Int() != 0:
		e.add("spec.updateStrategy.rollingUpdate.maxSurge", "may not be set when maxUnavailable is not 0 (one of them must be 0)")
	}
	for path, v := range map[string]intorpercent.Value{"maxSurge": surge, "maxUnavailable": unavail} {
		if v.IsPercent() && v.Int() > 100 {
			e.add("spec.updateStrategy.rollingUpdate."+path, "must not be more than 100%%")
		}
	}
}

func validateStatefulSet(e *errs, s *skiffv1.StatefulSetSpec) {
	// The pods mount each claim template's volume under its name.
	tmpl := s.GetTemplate()
	if tmpl.GetSpec() != nil && len(s.GetVolumeClaimTemplates()) > 0 {
		tmpl = proto.Clone(tmpl).(*skiffv1.PodTemplateSpec)
		for _, t := range s.GetVolumeClaimTemplates() {
			tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, &skiffv1.PodVolume{Name: t.GetMetadata().GetName(), Volume: &skiffv1.VolumeClaimSource{Name: t.GetMetadata().GetName()}})
		}
	}
	validatePodSet(e, "stateful set", s.GetReplicas(), s.GetSelector(), tmpl)
	if r := s.GetTemplate().GetSpec().GetRestartPolicy(); r != "" && r != "Always" {
		e.add("spec.template.spec.restartPolicy", "%q: a stateful set's pods run for good; only Always", r)
	}
	if n := s.GetServiceName(); n != "" {
		checkLabel(e, "spec.serviceName", n)
	}
	checkOneOf(e, "spec.podManagementPolicy", s.GetPodManagementPolicy(), "OrderedReady", "Parallel")
	if s.GetMinReadySeconds() < 0 {
		e.add("spec.minReadySeconds", "%d must not be negative", s.GetMinReadySeconds())
	}
	checkNoRevisionHistory(e, s.RevisionHistoryLimit)
	if s.GetOrdinals().GetStart() < 0 {
		e.add("spec.ordinals.start", "%d must not be negative", s.GetOrdinals().GetStart())
	}
	st := s.GetUpdateStrategy()
	checkOneOf(e, "spec.updateStrategy.type", st.GetType(), "RollingUpdate", "OnDelete")
	if ru := st.GetRollingUpdate(); ru != nil {
		if st.GetType() != "RollingUpdate" {
			e.add("spec.updateStrategy.rollingUpdate", "must be left out when the update strategy is %s", st.GetType())
		}
		if ru.GetPartition() < 0 {
			e.add("spec.updateStrategy.rollingUpdate.partition", "%d must not be negative", ru.GetPartition())
		}
		if m := ru.GetMaxUnavailable(); m != "" && m != "1" {
			e.add("spec.updateStrategy.rollingUpdate.maxUnavailable", "%q is not supported by skiff yet: pods are updated one at a time (1)", m)
		}
	}
	rp := s.GetPersistentVolumeClaimRetentionPolicy()
	checkOneOf(e, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", rp.GetWhenDeleted(), "Retain", "Delete")
	checkOneOf(e, "spec.persistentVolumeClaimRetentionPolicy.whenScaled", rp.GetWhenScaled(), "Retain", "Delete")
	names := map[string]bool{}
	for i, t := range s.GetVolumeClaimTemplates() {
		p := idx("spec.volumeClaimTemplates", i)
		n := t.GetMetadata().GetName()
		checkLabel(e, p+".metadata.name", n)
		if names[n] {
			e.add(p+".metadata.name", "%q is used by another template", n)
		}
		names[n] = true
		if t.GetSpec().GetLocal().GetNodeName() != "" {
			e.add(p+".spec.local.nodeName", "must be empty: each pod's volume is placed with its pod")
		}
		var sub errs
		validateVolume(&sub, t.GetSpec())
		for _, fe := range sub.list {
			e.add(p+"."+fe.Path, "%s", fe.Msg)
		}
		for _, v := range s.GetTemplate().GetSpec().GetVolumes() {
			if v.GetName() == n {
				e.add(p+".metadata.name", "%q is also a volume of the pod template; the template's claim is mounted under this name", n)
			}
		}
	}
}

// checkNoRevisionHistory refuses revisionHistoryLimit: a DaemonSet's or
// StatefulSet's old revisions are not kept as ControllerRevisions (the
// pods' controller-revision-hash label tells versions apart), so there is
// nothing for it to limit.
func checkNoRevisionHistory(e *errs, limit *int32) {
	if limit != nil {
		e.add("spec.revisionHistoryLimit", "is not supported by skiff yet: no ControllerRevisions are kept; leave it out")
	}
}

// validateAffinity checks required node affinity: the operators
// Kubernetes has, fields only metadata.name.
func validateAffinity(e *errs, path string, a *skiffv1.Affinity) {
	validatePodAffinity(e, path, a)
	for i, t := range a.GetNodeAffinity().GetPreferredDuringSchedulingIgnoredDuringExecution() {
		tp := idx(path+".nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution", i)
		checkWeight(e, tp+".weight", t.GetWeight())
		if t.GetPreference() == nil {
			e.add(tp+".preference", "required")
		}
		validateNodeSelectorTerm(e, tp+".preference", t.GetPreference())
	}
	req := a.GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution()
	if a.GetNodeAffinity() == nil || req == nil {
		return
	}
	p := path + ".nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
	if len(req.GetNodeSelectorTerms()) == 0 {
		e.add(p, "at least one term is required")
	}
	for i, t := range req.GetNodeSelectorTerms() {
		validateNodeSelectorTerm(e, idx(p, i), t)
	}
}

func validateNodeSelectorTerm(e *errs, tp string, t *skiffv1.NodeSelectorTerm) {
	for j, r := range t.GetMatchExpressions() {
		validateNodeSelectorRequirement(e, idx(tp+".matchExpressions", j), r)
	}
	for j, r := range t.GetMatchFields() {
		rp := idx(tp+".matchFields", j)
		if r.GetKey() != "metadata.name" {
			e.add(rp+".key", "%q: only metadata.name is a node field to match", r.GetKey())
		}
		checkOneOf(e, rp+".operator", r.GetOperator(), "In", "NotIn")
		if len(r.GetValues()) != 1 {
			e.add(rp+".values", "exactly one node name is required")
		}
	}
}

func validateNodeSelectorRequirement(e *errs, path string, r *skiffv1.NodeSelectorRequirement) {
	if r.GetKey() == "" {
		e.add(path+".key", "required")
	}
	checkOneOf(e, path+".operator", r.GetOperator(), "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
	switch r.GetOperator() {
	case "In", "NotIn":
		if len(r.GetValues()) == 0 {
			e.add(path+".values", "at least one value is required for %s", r.GetOperator())
		}
	case "Exists", "DoesNotExist":
		if len(r.GetValues()) != 0 {
			e.add(path+".values", "must be empty for %s", r.GetOperator())
		}
	case "Gt", "Lt":
		if len(r.GetValues()) != 1 {
			e.add(path+".values", "exactly one integer is required for %s", r.GetOperator())
		} else if _, err := strconv.ParseInt(r.GetValues()[0], 10, 64); err != nil {
			e.add(path+".values[0]", "%q is not an integer", r.GetValues()[0])
		}
	}
}

// validateWorkloadUpdate: what a DaemonSet or StatefulSet may not change,
// as apps/v1.
func validateWorkloadUpdate(e *errs, old, obj skiffv1.Resource) {
	switch o := obj.(type) {
	case *skiffv1.DaemonSet:
		if !proto.Equal(old.(*skiffv1.DaemonSet).GetSpec().GetSelector(), o.GetSpec().GetSelector()) {
			e.add("spec.selector", "cannot change; delete the daemon set and create it again")
		}
	case *skiffv1.StatefulSet:
		prev := old.(*skiffv1.StatefulSet).GetSpec()
		s := o.GetSpec()
		if !proto.Equal(prev.GetSelector(), s.GetSelector()) {
			e.add("spec.selector", "cannot change; delete the stateful set and create it again")
		}
		if prev.GetServiceName() != s.GetServiceName() {
			e.add("spec.serviceName", "cannot change")
		}
		if prev.GetPodManagementPolicy() != s.GetPodManagementPolicy() {
			e.add("spec.podManagementPolicy", "cannot change")
		}
		if len(prev.GetVolumeClaimTemplates()) != len(s.GetVolumeClaimTemplates()) {
			e.add("spec.volumeClaimTemplates", "cannot change")
		} else {
			for i := range s.GetVolumeClaimTemplates() {
				if !proto.Equal(prev.VolumeClaimTemplates[i], s.VolumeClaimTemplates[i]) {
					e.add("spec.volumeClaimTemplates", "cannot change")
					break
				}
			}
		}
	}
}
