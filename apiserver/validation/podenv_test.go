package validation

import (
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPodEnvValidation(t *testing.T) {
	no := false
	zero := int64(0)
	yes := true
	pod := basePod()
	c := pod.Spec.Containers[0]
	c.Env = []*skiffv1.EnvVar{
		{Name: "A", ValueFrom: &skiffv1.EnvVarSource{FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "metadata.labels"}}},
		{Name: "B", ValueFrom: &skiffv1.EnvVarSource{FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "metadata.name", ApiVersion: "v2"}}},
		{Name: "C", ValueFrom: &skiffv1.EnvVarSource{ResourceFieldRef: &skiffv1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: "1Mi"}}},
		{Name: "D", ValueFrom: &skiffv1.EnvVarSource{ResourceFieldRef: &skiffv1.ResourceFieldSelector{ContainerName: "other", Resource: "limits.gpu"}}},
		{Name: "OK", ValueFrom: &skiffv1.EnvVarSource{FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
	}
	c.SecurityContext = &skiffv1.SecurityContext{Privileged: true, AllowPrivilegeEscalation: &no,
		SeccompProfile: &skiffv1.SeccompProfile{Type: "Localhost", LocalhostProfile: "x.json"}}
	pod.Spec.DnsPolicy = "None"
	pod.Spec.DnsConfig = &skiffv1.PodDNSConfig{Searches: []string{"Bad_Domain"}}
	pod.Spec.HostAliases = []*skiffv1.HostAlias{{Ip: "not-an-ip"}}
	pod.Spec.SecurityContext = &skiffv1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &zero, SeccompProfile: &skiffv1.SeccompProfile{Type: "Whatever"}}
	pod.Spec.Volumes = []*skiffv1.PodVolume{{Name: "info", DownwardApi: &skiffv1.DownwardAPIVolumeSource{Items: []*skiffv1.DownwardAPIVolumeFile{
		{Path: "ip", FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "status.podIP"}},
		{Path: "../up", FieldRef: &skiffv1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		{Path: "cpu", ResourceFieldRef: &skiffv1.ResourceFieldSelector{Resource: "limits.cpu"}},
		{Path: "both"},
	}}}}
	err := Validate(pod)
	for _, want := range []string{
		`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: "metadata.labels" is not supported; supported: metadata.name`,
		`spec.containers[0].env[1].valueFrom.fieldRef.apiVersion: "v2" is not supported`,
		`spec.containers[0].env[2].valueFrom.resourceFieldRef.divisor: "1Mi" is not a divisor of limits.cpu`,
		`spec.containers[0].env[3].valueFrom.resourceFieldRef.containerName: "other" is not a container of the pod`,
		`spec.containers[0].env[3].valueFrom.resourceFieldRef.resource: "limits.gpu" is not supported`,
		"spec.containers[0].securityContext.allowPrivilegeEscalation: cannot be false when privileged is true",
		"spec.containers[0].securityContext.seccompProfile.type: Localhost profiles are not supported by skiff yet",
		"spec.dnsConfig.nameservers: at least one nameserver is required when dnsPolicy is None",
		`spec.dnsConfig.searches[0]: "Bad_Domain" is not a valid name`,
		`spec.hostAliases[0].ip: "not-an-ip" is not an IP address`,
		"spec.hostAliases[0].hostnames: at least one hostname is required",
		"spec.securityContext.runAsNonRoot: contradicts runAsUser 0",
		`spec.securityContext.seccompProfile.type: "Whatever" is not one of RuntimeDefault, Unconfined`,
		`spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: "status.podIP" is not supported`,
		`spec.volumes[0].downwardAPI.items[1].path: "../up" must not contain '..'`,
		"spec.volumes[0].downwardAPI.items[2].resourceFieldRef.containerName: required in a volume",
		"spec.volumes[0].downwardAPI.items[3]: exactly one of fieldRef or resourceFieldRef must be set",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "env[4]") {
		t.Errorf("metadata.labels['app'] refused: %v", err)
	}

	good := basePod()
	good.Spec.DnsPolicy = "Default"
	good.Spec.DnsConfig = &skiffv1.PodDNSConfig{Nameservers: []string{"192.0.2.1"}, Options: []*skiffv1.PodDNSConfigOption{{Name: "ndots"}}}
	good.Spec.Containers[0].Env = []*skiffv1.EnvVar{{Name: "MEM", ValueFrom: &skiffv1.EnvVarSource{ResourceFieldRef: &skiffv1.ResourceFieldSelector{Resource: "limits.memory", Divisor: "1Mi"}}}}
	DefaultPodSpec(good.Spec)
	if err := Validate(good); err != nil {
		t.Errorf("valid pod refused: %v", err)
	}
	DefaultPodSpec(pod.Spec)
	if pod.Spec.DnsPolicy != "None" || pod.Spec.Containers[0].Env[4].ValueFrom.FieldRef.ApiVersion != "v1" {
		t.Errorf("defaults: dnsPolicy %q, fieldRef apiVersion %q", pod.Spec.DnsPolicy, pod.Spec.Containers[0].Env[4].ValueFrom.FieldRef.ApiVersion)
	}
	empty := basePod()
	DefaultPodSpec(empty.Spec)
	if empty.Spec.DnsPolicy != "ClusterFirst" {
		t.Errorf("default dnsPolicy %q, want ClusterFirst", empty.Spec.DnsPolicy)
	}
}
