package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func baseTemplate() *skiffv1.PodTemplateSpec {
	return &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: basePod().Spec}
}

func baseDaemonSet(mutate func(*skiffv1.DaemonSetSpec)) *skiffv1.DaemonSet {
	ds := &skiffv1.DaemonSet{Metadata: &skiffv1.ObjectMeta{Name: "agent", Namespace: "d"},
		Spec: &skiffv1.DaemonSetSpec{Template: baseTemplate()}}
	if mutate != nil {
		mutate(ds.Spec)
	}
	return ds
}

func baseStatefulSet(mutate func(*skiffv1.StatefulSetSpec)) *skiffv1.StatefulSet {
	s := &skiffv1.StatefulSet{Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "d"},
		Spec: &skiffv1.StatefulSetSpec{Template: baseTemplate(), ServiceName: "nginx",
			VolumeClaimTemplates: []*skiffv1.Volume{{Metadata: &skiffv1.ObjectMeta{Name: "www"}, Spec: &skiffv1.VolumeSpec{Capacity: "1Gi"}}}}}
	s.Spec.Template.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "www", MountPath: "/www"}}
	if mutate != nil {
		mutate(s.Spec)
	}
	return s
}

func TestDaemonSetValidation(t *testing.T) {
	ru := func(surge, unavail string) func(*skiffv1.DaemonSetSpec) {
		return func(s *skiffv1.DaemonSetSpec) {
			s.UpdateStrategy = &skiffv1.DaemonSetUpdateStrategy{RollingUpdate: &skiffv1.RollingUpdateDaemonSet{MaxSurge: surge, MaxUnavailable: unavail}}
		}
	}
	for _, c := range []struct {
		name   string
		mutate func(*skiffv1.DaemonSetSpec)
		want   string
	}{
		{"valid", nil, ""},
		{"surge", ru("1", "0"), ""},
		{"percent", ru("", "10%"), ""},
		{"both zero", ru("0", "0"), "spec.updateStrategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0"},
		{"both set", ru("1", "1"), "spec.updateStrategy.rollingUpdate.maxSurge: may not be set when maxUnavailable is not 0"},
		{"bad count", ru("", "x"), "spec.updateStrategy.rollingUpdate.maxUnavailable"},
		{"strategy", func(s *skiffv1.DaemonSetSpec) { s.UpdateStrategy = &skiffv1.DaemonSetUpdateStrategy{Type: "Recreate"} }, `spec.updateStrategy.type: "Recreate"`},
		{"OnDelete with rollingUpdate", func(s *skiffv1.DaemonSetSpec) {
			s.UpdateStrategy = &skiffv1.DaemonSetUpdateStrategy{Type: "OnDelete", RollingUpdate: &skiffv1.RollingUpdateDaemonSet{}}
		}, "spec.updateStrategy.rollingUpdate: must be left out"},
		{"restartPolicy", func(s *skiffv1.DaemonSetSpec) { s.Template.Spec.RestartPolicy = "Never" }, "spec.template.spec.restartPolicy"},
		{"selector", func(s *skiffv1.DaemonSetSpec) {
			s.Selector = &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "b"}}
		}, "spec.selector"},
		{"affinity field", func(s *skiffv1.DaemonSetSpec) {
			s.Template.Spec.Affinity = &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &skiffv1.NodeSelector{
				NodeSelectorTerms: []*skiffv1.NodeSelectorTerm{{MatchFields: []*skiffv1.NodeSelectorRequirement{{Key: "metadata.labels", Operator: "In", Values: []string{"x"}}}}}}}}
		}, `matchFields[0].key: "metadata.labels"`},
		{"affinity operator", func(s *skiffv1.DaemonSetSpec) {
			s.Template.Spec.Affinity = &skiffv1.Affinity{NodeAffinity: &skiffv1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &skiffv1.NodeSelector{
				NodeSelectorTerms: []*skiffv1.NodeSelectorTerm{{MatchExpressions: []*skiffv1.NodeSelectorRequirement{{Key: "cpu", Operator: "Gt", Values: []string{"many"}}}}}}}}
		}, `matchExpressions[0].values[0]: "many" is not an integer`},
	} {
		t.Run(c.name, func(t *testing.T) { wantValidation(t, baseDaemonSet(c.mutate), c.want) })
	}
	ds := baseDaemonSet(nil)
	Default(ds)
	if ru := ds.Spec.UpdateStrategy.GetRollingUpdate(); ds.Spec.UpdateStrategy.Type != "RollingUpdate" || ru.GetMaxUnavailable() != "1" || ru.GetMaxSurge() != "0" {
		t.Errorf("defaults %v: want RollingUpdate, maxUnavailable 1, maxSurge 0", ds.Spec.UpdateStrategy)
	}
}

func TestStatefulSetValidation(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*skiffv1.StatefulSetSpec)
		want   string
	}{
		{"valid, the claim template mounted", nil, ""},
		{"policy", func(s *skiffv1.StatefulSetSpec) { s.PodManagementPolicy = "Random" }, `spec.podManagementPolicy: "Random"`},
		{"partition", func(s *skiffv1.StatefulSetSpec) {
			s.UpdateStrategy = &skiffv1.StatefulSetUpdateStrategy{RollingUpdate: &skiffv1.RollingUpdateStatefulSetStrategy{Partition: proto.Int32(-1)}}
		}, "spec.updateStrategy.rollingUpdate.partition: -1 must not be negative"},
		{"maxUnavailable", func(s *skiffv1.StatefulSetSpec) {
			s.UpdateStrategy = &skiffv1.StatefulSetUpdateStrategy{RollingUpdate: &skiffv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: "2"}}
		}, "spec.updateStrategy.rollingUpdate.maxUnavailable: \"2\" is not supported by skiff yet"},
		{"retention", func(s *skiffv1.StatefulSetSpec) {
			s.PersistentVolumeClaimRetentionPolicy = &skiffv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: "Keep"}
		}, `spec.persistentVolumeClaimRetentionPolicy.whenScaled: "Keep"`},
		{"service name", func(s *skiffv1.StatefulSetSpec) { s.ServiceName = "Not_A_Name" }, "spec.serviceName"},
		{"template pinned", func(s *skiffv1.StatefulSetSpec) {
			s.VolumeClaimTemplates[0].Spec.Local = &skiffv1.LocalVolumeSource{NodeName: "n1"}
		}, "spec.volumeClaimTemplates[0].spec.local.nodeName: must be empty"},
		{"template name twice", func(s *skiffv1.StatefulSetSpec) {
			s.VolumeClaimTemplates = append(s.VolumeClaimTemplates, proto.Clone(s.VolumeClaimTemplates[0]).(*skiffv1.Volume))
		}, `spec.volumeClaimTemplates[1].metadata.name: "www" is used by another template`},
		{"template capacity", func(s *skiffv1.StatefulSetSpec) { s.VolumeClaimTemplates[0].Spec.Capacity = "lots" }, "spec.volumeClaimTemplates[0].spec.capacity"},
		{"mount of nothing", func(s *skiffv1.StatefulSetSpec) { s.VolumeClaimTemplates = nil }, "volumeMounts"},
	} {
		t.Run(c.name, func(t *testing.T) { wantValidation(t, baseStatefulSet(c.mutate), c.want) })
	}
	s := baseStatefulSet(nil)
	Default(s)
	sp := s.Spec
	if sp.GetReplicas() != 1 || sp.GetPodManagementPolicy() != "OrderedReady" || sp.GetUpdateStrategy().GetType() != "RollingUpdate" ||
		sp.GetUpdateStrategy().GetRollingUpdate().GetPartition() != 0 || sp.GetPersistentVolumeClaimRetentionPolicy().GetWhenScaled() != "Retain" ||
		sp.GetVolumeClaimTemplates()[0].GetSpec().GetAccessMode() != "ReadWriteOnce" {
		t.Errorf("defaults %v", sp)
	}
}

func TestStatefulSetUpdates(t *testing.T) {
	old := baseStatefulSet(nil)
	Default(old)
	next := proto.Clone(old).(*skiffv1.StatefulSet)
	next.Spec.Replicas = proto.Int32(5)
	next.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	if err := ValidateUpdate(old, next); err != nil {
		t.Errorf("replicas and template may change: %v", err)
	}
	next = proto.Clone(old).(*skiffv1.StatefulSet)
	next.Spec.ServiceName = "other"
	next.Spec.VolumeClaimTemplates[0].Spec.Capacity = "2Gi"
	err := ValidateUpdate(old, next)
	if err == nil || !strings.Contains(err.Error(), "spec.serviceName: cannot change") || !strings.Contains(err.Error(), "spec.volumeClaimTemplates: cannot change") {
		t.Errorf("serviceName and claim templates changed: %v", err)
	}
}

func TestRevisionHistoryLimitRefused(t *testing.T) {
	wantValidation(t, baseDaemonSet(func(s *skiffv1.DaemonSetSpec) { s.RevisionHistoryLimit = proto.Int32(3) }),
		"spec.revisionHistoryLimit: is not supported by skiff yet")
	wantValidation(t, baseStatefulSet(func(s *skiffv1.StatefulSetSpec) { s.RevisionHistoryLimit = proto.Int32(3) }),
		"spec.revisionHistoryLimit: is not supported by skiff yet")
}
