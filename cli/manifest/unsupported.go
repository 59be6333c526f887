package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Fields Kubernetes has and skiff does not implement (yet), per kind, as
// paths with list items written []. A manifest that sets one is refused
// with "… is not supported by skiff yet" instead of being run without it;
// a name on none of these lists and not in skiff's schema is a typo, told
// as an unknown field with the nearest known one. Fields that Kubernetes
// and skiff share are not listed: the schema knows them.

var metaUnsupported = []string{
	"selfLink", "managedFields",
	"ownerReferences[].blockOwnerDeletion",
}

var podSpecUnsupported = []string{
	"ephemeralContainers",
	"serviceAccountName", "serviceAccount",
	"automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC", "hostUsers",
	"setHostnameAsFQDN",
	"hostnameOverride", "schedulerName", "priorityClassName",
	"affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[].matchLabelKeys",
	"affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[].mismatchLabelKeys",
	"affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[].podAffinityTerm.matchLabelKeys",
	"affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[].podAffinityTerm.mismatchLabelKeys",
	"affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[].matchLabelKeys",
	"affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[].mismatchLabelKeys",
	"affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[].podAffinityTerm.matchLabelKeys",
	"affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[].podAffinityTerm.mismatchLabelKeys",
	"preemptionPolicy", "readinessGates", "runtimeClassName",
	"overhead", "os", "schedulingGates",
	"resourceClaims", "resources",
	"securityContext.supplementalGroupsPolicy",
	"securityContext.fsGroupChangePolicy", "securityContext.sysctls",
	"securityContext.appArmorProfile",
	"securityContext.seLinuxOptions", "securityContext.seLinuxChangePolicy",
	"securityContext.windowsOptions",
	"volumes[].projected.sources[].serviceAccountToken",
	"volumes[].projected.sources[].clusterTrustBundle", "volumes[].projected.sources[].podCertificate",
	"volumes[].ephemeral", "volumes[].image", "volumes[].csi",
	"volumes[].nfs", "volumes[].gcePersistentDisk", "volumes[].awsElasticBlockStore",
	"volumes[].gitRepo", "volumes[].iscsi", "volumes[].glusterfs", "volumes[].rbd",
	"volumes[].flexVolume", "volumes[].cinder", "volumes[].cephfs", "volumes[].flocker",
	"volumes[].fc", "volumes[].azureFile", "volumes[].azureDisk",
	"volumes[].vsphereVolume", "volumes[].quobyte", "volumes[].photonPersistentDisk",
	"volumes[].portworxVolume", "volumes[].scaleIO", "volumes[].storageos",
}

// containerUnsupported holds for containers and init containers.
var containerUnsupported = []string{
	"env[].valueFrom.fileKeyRef",
	"lifecycle.postStart.tcpSocket", "lifecycle.preStop.tcpSocket", "lifecycle.stopSignal",
	"lifecycle.postStart.httpGet.host", "lifecycle.preStop.httpGet.host",
	"resizePolicy",
	"restartPolicyRules", "volumeDevices",
	"ports[].hostIP", "resources.claims",
	"volumeMounts[].recursiveReadOnly", "volumeMounts[].mountPropagation",
	"volumeMounts[].subPathExpr",
	"securityContext.appArmorProfile",
	"securityContext.seLinuxOptions", "securityContext.windowsOptions",
	"securityContext.procMount",
}

// probeUnsupported holds for every probe of a container.
var probeUnsupported = []string{
	"httpGet.host", "tcpSocket.host",
}

var serviceUnsupported = []string{
	// loadBalancerIP is deprecated in Kubernetes (each load balancer's
	// own annotation replaces it); skiff's load balancer answers on the
	// nodes' addresses, so there is no address to choose.
	"spec.loadBalancerIP", "spec.externalName",
	"spec.healthCheckNodePort",
	"spec.publishNotReadyAddresses", "spec.ipFamilies", "spec.ipFamilyPolicy",
	"spec.trafficDistribution", "spec.ports[].appProtocol",
}

var persistentVolumeClaimUnsupported = []string{
	"spec.selector", "spec.dataSource", "spec.dataSourceRef",
	"spec.volumeAttributesClassName", "spec.resources.limits",
}

var persistentVolumeUnsupported = []string{
	"spec.claimRef.resourceVersion", "spec.claimRef.fieldPath", "spec.mountOptions",
	"spec.volumeAttributesClassName", "spec.local.fsType",
	"spec.csi", "spec.nfs",
	"spec.gcePersistentDisk", "spec.awsElasticBlockStore", "spec.iscsi",
	"spec.glusterfs", "spec.rbd", "spec.flexVolume", "spec.cinder", "spec.cephfs",
	"spec.flocker", "spec.fc", "spec.azureFile", "spec.azureDisk", "spec.vsphereVolume",
	"spec.quobyte", "spec.photonPersistentDisk", "spec.portworxVolume", "spec.scaleIO",
	"spec.storageos",
}

var jobUnsupported = []string{
	"spec.suspend", "spec.manualSelector", "spec.podReplacementPolicy",
	"spec.backoffLimitPerIndex", "spec.maxFailedIndexes", "spec.successPolicy",
	"spec.managedBy", "spec.podFailurePolicy.rules[].onPodConditions",
}

var hpaUnsupported = []string{
	"spec.behavior.scaleUp.policies", "spec.behavior.scaleUp.selectPolicy", "spec.behavior.scaleUp.tolerance",
	"spec.behavior.scaleDown.policies", "spec.behavior.scaleDown.selectPolicy", "spec.behavior.scaleDown.tolerance",
	"spec.metrics[].pods", "spec.metrics[].object", "spec.metrics[].external", "spec.metrics[].containerResource",
}

// unsupportedFields returns the set of Kubernetes field paths, from the
// top of a manifest of kind, that skiff does not implement.
func unsupportedFields(kind string) map[string]bool {
	set := map[string]bool{}
	add := func(prefix string, paths []string) {
		for _, p := range paths {
			set[prefix+p] = true
		}
	}
	podSpec := func(prefix string) {
		add(prefix, podSpecUnsupported)
		for _, c := range []string{"containers[].", "initContainers[]."} {
			add(prefix+c, containerUnsupported)
			for _, p := range []string{"livenessProbe.", "readinessProbe.", "startupProbe."} {
				add(prefix+c+p, probeUnsupported)
			}
		}
	}
	add("metadata.", metaUnsupported)
	switch kind {
	case "Pod":
		podSpec("spec.")
	case "ReplicaSet", "Deployment", "DaemonSet", "StatefulSet", "ReplicationController":
		add("spec.template.metadata.", metaUnsupported)
		podSpec("spec.template.spec.")
	case "Job":
		add("", jobUnsupported)
		add("spec.template.metadata.", metaUnsupported)
		podSpec("spec.template.spec.")
	case "CronJob":
		for _, p := range jobUnsupported {
			set["spec.jobTemplate."+p] = true
		}
		add("spec.jobTemplate.metadata.", metaUnsupported)
		add("spec.jobTemplate.spec.template.metadata.", metaUnsupported)
		podSpec("spec.jobTemplate.spec.template.spec.")
	case "Service":
		add("", serviceUnsupported)
	case "PersistentVolumeClaim":
		add("", persistentVolumeClaimUnsupported)
	case "PersistentVolume":
		add("", persistentVolumeUnsupported)
	case "HorizontalPodAutoscaler":
		add("", hpaUnsupported)
	case "Namespace":
		set["spec.finalizers"] = true
	case "Node":
		add("spec.", []string{"podCIDRs", "providerID", "configSource", "externalID"})
	case "Event":
		add("", []string{"eventTime", "series", "action", "related", "reportingComponent",
			"reportingInstance", "involvedObject.apiVersion", "involvedObject.fieldPath",
			"involvedObject.resourceVersion"})
	}
	return set
}

// checkUnsupported refuses a Kubernetes manifest that sets a field skiff
// does not implement, naming every such field it sets.
func checkUnsupported(kind string, top map[string]any) error {
	set := unsupportedFields(kind)
	var found []string
	var walk func(v any, path, shape string)
	walk = func(v any, path, shape string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if e == nil {
					continue
				}
				p, s := join(path, k), join(shape, k)
				if set[s] {
					found = append(found, p)
					continue
				}
				walk(e, p, s)
			}
		case []any:
			for i, e := range x {
				walk(e, fmt.Sprintf("%s[%d]", path, i), shape+"[]")
			}
		}
	}
	walk(top, "", "")
	if len(found) == 0 {
		return nil
	}
	sort.Strings(found)
	verb := "is"
	if len(found) > 1 {
		verb = "are"
	}
	return fmt.Errorf("%s %s not supported by skiff yet", strings.Join(found, ", "), verb)
}
