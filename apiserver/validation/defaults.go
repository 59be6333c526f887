package validation

import (
	"strconv"
	"strings"
	"unicode/utf8"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// DefaultGracePeriodSeconds is how long a pod gets between SIGTERM and
// SIGKILL unless its spec says otherwise.
const DefaultGracePeriodSeconds = 30

// Default fills in what a user may leave out, the way Kubernetes does.
func Default(obj skiffv1.Resource) {
	switch o := obj.(type) {
	case *skiffv1.Node:
		if o.Spec == nil {
			o.Spec = &skiffv1.NodeSpec{}
		}
	case *skiffv1.Lease:
		if o.Spec == nil {
			o.Spec = &skiffv1.LeaseSpec{}
		}
	case *skiffv1.Pod:
		if o.Spec == nil {
			o.Spec = &skiffv1.PodSpec{}
		}
		DefaultPodSpec(o.Spec)
	case *skiffv1.ReplicaSet:
		if o.Spec == nil {
			o.Spec = &skiffv1.ReplicaSetSpec{}
		}
		defaultPodSet(&o.Spec.Replicas, &o.Spec.Selector, o.Spec.Template)
	case *skiffv1.ReplicationController:
		if o.Spec == nil {
			o.Spec = &skiffv1.ReplicationControllerSpec{}
		}
		defaultReplicationController(o.Spec)
	case *skiffv1.Deployment:
		if o.Spec == nil {
			o.Spec = &skiffv1.DeploymentSpec{}
		}
		defaultDeployment(o.Spec)
	case *skiffv1.Service:
		if o.Spec == nil {
			o.Spec = &skiffv1.ServiceSpec{}
		}
		if o.Spec.Type == "" {
			o.Spec.Type = skiffv1.ServiceTypeClusterIP
		}
		defaultServicePolicies(o.Spec)
		if o.Spec.ClusterIp == "" && len(o.Spec.ClusterIps) == 1 {
			o.Spec.ClusterIp = o.Spec.ClusterIps[0]
		}
		for _, p := range o.Spec.Ports {
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
			if p.TargetPort == "" && p.Port != 0 {
				p.TargetPort = strconv.Itoa(int(p.Port))
			}
		}
	case *skiffv1.Secret:
		defaultSecret(o)
	case *skiffv1.Volume:
		if o.Spec == nil {
			o.Spec = &skiffv1.VolumeSpec{}
		}
		if o.Spec.AccessMode == "" {
			o.Spec.AccessMode = "ReadWriteOnce"
		}
		// No source, no class and no PersistentVolume asked for: local
		// storage, as if the default class provisioned it. Any other
		// Volume without a source is a claim the binder binds.
		if o.Spec.Local == nil && o.Spec.HostPath == nil && o.Spec.Nfs == nil && o.Spec.StorageClassName == nil && o.Spec.VolumeName == "" {
			o.Spec.Local = &skiffv1.LocalVolumeSource{}
		}
	case *skiffv1.PersistentVolume:
		defaultPersistentVolume(o)
	case *skiffv1.Autoscaler:
		if o.Spec == nil {
			o.Spec = &skiffv1.AutoscalerSpec{}
		}
		if o.Spec.MinReplicas == nil {
			one := int32(1)
			o.Spec.MinReplicas = &one
		}
		if o.Spec.TargetKind == "" {
			o.Spec.TargetKind = "ReplicaSet"
		}
		if o.Spec.TargetCpuUtilizationPercent == nil && len(o.Spec.Metrics) == 0 {
			p := int32(80)
			o.Spec.TargetCpuUtilizationPercent = &p
		}
	case *skiffv1.Endpoints:
		defaultEndpoints(o)
	case *skiffv1.Job:
		defaultJob(o)
	case *skiffv1.CronJob:
		defaultCronJob(o)
	case *skiffv1.DaemonSet:
		if o.Spec == nil {
			o.Spec = &skiffv1.DaemonSetSpec{}
		}
		defaultDaemonSet(o.Spec)
	case *skiffv1.StatefulSet:
		if o.Spec == nil {
			o.Spec = &skiffv1.StatefulSetSpec{}
		}
		defaultStatefulSet(o.Spec)
	case *skiffv1.Event:
		if o.Type == "" {
			o.Type = "Normal"
		}
		if o.Count == 0 {
			o.Count = 1
		}
		o.Message = truncateUTF8(o.Message, MaxEventMessageBytes)
	}
}

// defaultPodSet fills in what replica sets and deployments share: one
// replica, and a selector of the template's labels when left out.
func defaultPodSet(replicas **int32, selector **skiffv1.LabelSelector, tmpl *skiffv1.PodTemplateSpec) {
	if *replicas == nil {
		one := int32(1)
		*replicas = &one
	}
	if tmpl == nil {
		return
	}
	if tmpl.Spec == nil {
		tmpl.Spec = &skiffv1.PodSpec{}
	}
	DefaultPodSpec(tmpl.Spec)
	if *selector == nil && len(tmpl.GetMetadata().GetLabels()) > 0 {
		sel := map[string]string{}
		for k, v := range tmpl.Metadata.Labels {
			sel[k] = v
		}
		*selector = &skiffv1.LabelSelector{MatchLabels: sel}
	}
}

// defaultDeployment: Kubernetes' apps/v1 defaults (RollingUpdate with 25%
// surge and 25% unavailable, ten old replica sets kept, ten minutes to
// make progress).
func defaultDeployment(s *skiffv1.DeploymentSpec) {
	defaultPodSet(&s.Replicas, &s.Selector, s.Template)
	if s.Strategy == nil {
		s.Strategy = &skiffv1.DeploymentStrategy{}
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = "RollingUpdate"
	}
	if s.Strategy.Type == "RollingUpdate" {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &skiffv1.RollingUpdateDeployment{}
		}
		if s.Strategy.RollingUpdate.MaxSurge == "" {
			s.Strategy.RollingUpdate.MaxSurge = "25%"
		}
		if s.Strategy.RollingUpdate.MaxUnavailable == "" {
			s.Strategy.RollingUpdate.MaxUnavailable = "25%"
		}
	}
	if s.RevisionHistoryLimit == nil {
		n := int32(10)
		s.RevisionHistoryLimit = &n
	}
	if s.ProgressDeadlineSeconds == nil {
		n := int32(600)
		s.ProgressDeadlineSeconds = &n
	}
}

// truncateUTF8 cuts s to at most max bytes on a rune boundary, marking the
// cut with "…".
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// DefaultPodSpec fills in a pod spec (also a replica set's template).
func DefaultPodSpec(s *skiffv1.PodSpec) {
	defaultPodEnv(s)
	if s.RestartPolicy == "" {
		s.RestartPolicy = "Always"
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := int64(DefaultGracePeriodSeconds)
		s.TerminationGracePeriodSeconds = &g
	}
	for _, c := range append(append([]*skiffv1.Container(nil), s.InitContainers...), s.Containers...) {
		defaultContainerLifecycle(c)
		if c.ImagePullPolicy == "" {
			c.ImagePullPolicy = "IfNotPresent"
			if imageTag(c.Image) == "latest" {
				c.ImagePullPolicy = "Always"
			}
		}
		for _, p := range c.Ports {
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
		}
		for _, pr := range []*skiffv1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if pr == nil {
				continue
			}
			if pr.PeriodSeconds == 0 {
				pr.PeriodSeconds = 10
			}
			if pr.TimeoutSeconds == 0 {
				pr.TimeoutSeconds = 1
			}
			if pr.SuccessThreshold == 0 {
				pr.SuccessThreshold = 1
			}
			if pr.FailureThreshold == 0 {
				pr.FailureThreshold = 3
			}
			if pr.HttpGet != nil && pr.HttpGet.Path == "" {
				pr.HttpGet.Path = "/"
			}
		}
	}
	for _, t := range s.Tolerations {
		if t.Operator == "" {
			t.Operator = "Equal"
		}
	}
}

// imageTag is the tag of an image reference ("latest" when none is given
// and no digest pins it).
func imageTag(ref string) string {
	if strings.Contains(ref, "@") {
		return ""
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return "latest"
}

// defaultServicePolicies fills in session affinity and traffic policies as
// Kubernetes defaults them: None (with no config), 10800 s for ClientIP, Cluster (the
// external policy only for a NodePort service, the only kind it applies to).
func defaultServicePolicies(s *skiffv1.ServiceSpec) {
	if s.SessionAffinity == "" {
		s.SessionAffinity = skiffv1.SessionAffinityNone
	}
	if s.SessionAffinity == skiffv1.SessionAffinityNone {
		// A ClientIP service edited to None still carries the timeout
		// it was given: it goes with the affinity.
		s.SessionAffinityConfig = nil
	}
	if s.SessionAffinity == skiffv1.SessionAffinityClientIP {
		if s.SessionAffinityConfig == nil {
			s.SessionAffinityConfig = &skiffv1.SessionAffinityConfig{}
		}
		if s.SessionAffinityConfig.ClientIp == nil {
			s.SessionAffinityConfig.ClientIp = &skiffv1.ClientIPConfig{}
		}
		if s.SessionAffinityConfig.ClientIp.TimeoutSeconds == nil {
			t := int32(skiffv1.DefaultClientIPTimeout)
			s.SessionAffinityConfig.ClientIp.TimeoutSeconds = &t
		}
	}
	if s.Type == skiffv1.ServiceTypeLoadBalancer && s.AllocateLoadBalancerNodePorts == nil {
		yes := true
		s.AllocateLoadBalancerNodePorts = &yes
	}
	if s.ExternalTrafficPolicy == "" && (skiffv1.IsExternal(s) || len(s.ExternalIps) > 0) {
		s.ExternalTrafficPolicy = skiffv1.TrafficPolicyCluster
	}
	if s.InternalTrafficPolicy == "" {
		s.InternalTrafficPolicy = skiffv1.TrafficPolicyCluster
	}
}
