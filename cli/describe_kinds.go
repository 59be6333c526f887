package cli

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/skiff-sh/skiff/controller/rollout"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func (d *describer) pod(p *skiffv1.Pod) {
	spec, st := p.GetSpec(), p.GetStatus()
	node := orNone(spec.GetNodeName())
	if st.GetHostIp() != "" {
		node += "/" + st.GetHostIp()
	}
	d.kv(0, "Node", node)
	if st.GetStartTime() != nil {
		d.kv(0, "Start Time", d.time(st.GetStartTime()))
	}
	d.kv(0, "Status", summarizePod(p).status)
	if st.GetReason() != "" {
		d.kv(0, "Reason", st.GetReason())
	}
	if st.GetMessage() != "" {
		d.kv(0, "Message", oneLine(st.GetMessage()))
	}
	d.kv(0, "IP", orNone(st.GetPodIp()))
	d.kv(0, "Restart Policy", orDefault(spec.GetRestartPolicy(), "Always"))
	statuses := map[string]*skiffv1.ContainerStatus{}
	for _, cs := range append(append([]*skiffv1.ContainerStatus(nil), st.GetInitContainerStatuses()...), st.GetContainerStatuses()...) {
		statuses[cs.GetName()] = cs
	}
	if len(spec.GetInitContainers()) > 0 {
		d.head(0, "Init Containers")
		for _, c := range spec.GetInitContainers() {
			d.container(c, statuses[c.GetName()])
		}
	}
	d.head(0, "Containers")
	for _, c := range spec.GetContainers() {
		d.container(c, statuses[c.GetName()])
	}
	d.conditions(st.GetConditions())
	d.podVolumes(spec.GetVolumes())
	d.mapping(0, "Node-Selectors", spec.GetNodeSelector())
	if len(spec.GetTolerations()) == 0 {
		d.kv(0, "Tolerations", "<none>")
	} else {
		for i, t := range spec.GetTolerations() {
			key := ""
			if i == 0 {
				key = "Tolerations:"
			}
			fmt.Fprintf(d.tw, "%s\t%s\n", key, toleration(t))
		}
	}
}

func (d *describer) container(c *skiffv1.Container, cs *skiffv1.ContainerStatus) {
	d.head(1, c.GetName())
	d.kv(2, "Image", c.GetImage())
	if cs.GetImageId() != "" {
		d.kv(2, "Image ID", cs.GetImageId())
	}
	if len(c.GetCommand()) > 0 {
		d.kv(2, "Command", strings.Join(c.GetCommand(), " "))
	}
	if len(c.GetArgs()) > 0 {
		d.kv(2, "Args", strings.Join(c.GetArgs(), " "))
	}
	// Shown only when set, so plain containers read as before.
	if c.GetStdin() || c.GetTty() {
		d.kv(2, "Stdin", fmt.Sprintf("%t (once: %t)", c.GetStdin(), c.GetStdinOnce()))
		d.kv(2, "TTY", c.GetTty())
	}
	var ports []string
	for _, p := range c.GetPorts() {
		ports = append(ports, fmt.Sprintf("%d/%s", p.GetContainerPort(), orDefault(p.GetProtocol(), "TCP")))
	}
	d.kv(2, "Ports", orNone(strings.Join(ports, ", ")))
	if cs != nil {
		d.state(2, "State", cs.GetState())
		if s := cs.GetLastState(); s.GetTerminated() != nil || s.GetWaiting() != nil || s.GetRunning() != nil {
			d.state(2, "Last State", s)
		}
		d.kv(2, "Ready", titleBool(cs.GetReady()))
		d.kv(2, "Restart Count", cs.GetRestartCount())
	} else {
		d.kv(2, "State", "Waiting (not started)")
	}
	d.resources(2, "Requests", c.GetResources().GetRequests())
	d.resources(2, "Limits", c.GetResources().GetLimits())
	if lp := c.GetLivenessProbe(); lp != nil {
		d.kv(2, "Liveness", probe(lp))
	}
	if rp := c.GetReadinessProbe(); rp != nil {
		d.kv(2, "Readiness", probe(rp))
	}
	if sp := c.GetStartupProbe(); sp != nil {
		d.kv(2, "Startup", probe(sp))
	}
	d.hooks(2, c.GetLifecycle())
	d.envFrom(2, c.GetEnvFrom())
	if len(c.GetEnv()) == 0 {
		d.kv(2, "Environment", "<none>")
	} else {
		d.head(2, "Environment")
		for _, env := range c.GetEnv() {
			d.kv(3, env.GetName(), envValue(env))
		}
	}
	if len(c.GetVolumeMounts()) == 0 {
		d.kv(2, "Mounts", "<none>")
	} else {
		d.head(2, "Mounts")
		for _, m := range c.GetVolumeMounts() {
			mode := "rw"
			if m.GetReadOnly() {
				mode = "ro"
			}
			d.row(3, fmt.Sprintf("%s from %s (%s)", m.GetMountPath(), m.GetName(), mode))
		}
	}
}

func (d *describer) state(level int, key string, s *skiffv1.ContainerState) {
	switch {
	case s.GetRunning() != nil:
		d.kv(level, key, "Running")
		d.kv(level+1, "Started", d.time(s.GetRunning().GetStartedAt()))
	case s.GetTerminated() != nil:
		t := s.GetTerminated()
		d.kv(level, key, "Terminated")
		d.kv(level+1, "Reason", orNone(t.GetReason()))
		if t.GetMessage() != "" {
			d.kv(level+1, "Message", oneLine(t.GetMessage()))
		}
		d.kv(level+1, "Exit Code", t.GetExitCode())
		if t.GetSignal() != 0 {
			d.kv(level+1, "Signal", t.GetSignal())
		}
		if t.GetStartedAt() != nil {
			d.kv(level+1, "Started", d.time(t.GetStartedAt()))
		}
		if t.GetFinishedAt() != nil {
			d.kv(level+1, "Finished", d.time(t.GetFinishedAt()))
		}
	case s.GetWaiting() != nil:
		d.kv(level, key, "Waiting")
		d.kv(level+1, "Reason", orNone(s.GetWaiting().GetReason()))
		if s.GetWaiting().GetMessage() != "" {
			d.kv(level+1, "Message", oneLine(s.GetWaiting().GetMessage()))
		}
	default:
		d.kv(level, key, "<unknown>")
	}
}

func (d *describer) resources(level int, key string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	d.head(level, key)
	for _, kv := range strings.Split(formatMap(m), ",") {
		k, v, _ := strings.Cut(kv, "=")
		d.kv(level+1, k, v)
	}
}

func (d *describer) podVolumes(vols []*skiffv1.PodVolume) {
	if len(vols) == 0 {
		d.kv(0, "Volumes", "<none>")
		return
	}
	d.head(0, "Volumes")
	for _, v := range vols {
		d.head(1, v.GetName())
		switch {
		case d.configVolume(v):
		case v.GetEmptyDir() != nil:
			d.kv(2, "Type", "EmptyDir (a directory that lives as long as the pod)")
			d.kv(2, "Medium", orDefault(v.GetEmptyDir().GetMedium(), "<node disk>"))
			if v.GetEmptyDir().GetSizeLimit() != "" {
				d.kv(2, "SizeLimit", v.GetEmptyDir().GetSizeLimit())
			}
		case v.GetHostPath() != nil:
			d.kv(2, "Type", "HostPath (a directory on the node)")
			d.kv(2, "Path", v.GetHostPath().GetPath())
		case v.GetVolume() != nil:
			d.kv(2, "Type", "Volume (a reference to a Volume object)")
			d.kv(2, "VolumeName", v.GetVolume().GetName())
			d.kv(2, "ReadOnly", titleBool(v.GetVolume().GetReadOnly()))
		}
	}
}

func (d *describer) node(n *skiffv1.Node) {
	d.kv(0, "Roles", nodeRoles(n))
	d.kv(0, "Status", nodeStatus(n))
	d.kv(0, "Unschedulable", titleBool(n.GetSpec().GetUnschedulable()))
	if len(n.GetSpec().GetTaints()) == 0 {
		d.kv(0, "Taints", "<none>")
	} else {
		for i, t := range n.GetSpec().GetTaints() {
			key := ""
			if i == 0 {
				key = "Taints:"
			}
			s := t.GetKey()
			if t.GetValue() != "" {
				s += "=" + t.GetValue()
			}
			fmt.Fprintf(d.tw, "%s\t%s:%s\n", key, s, t.GetEffect())
		}
	}
	d.kv(0, "PodCIDR", orNone(n.GetSpec().GetPodCidr()))
	st := n.GetStatus()
	d.conditions(st.GetConditions())
	if len(st.GetAddresses()) == 0 {
		d.kv(0, "Addresses", "<none>")
	} else {
		d.head(0, "Addresses")
		for _, a := range st.GetAddresses() {
			d.kv(1, a.GetType(), a.GetAddress())
		}
	}
	d.resources(0, "Capacity", st.GetCapacity())
	d.resources(0, "Allocatable", st.GetAllocatable())
	info := st.GetNodeInfo()
	d.head(0, "System Info")
	d.kv(1, "Kernel Version", orUnknown(info.GetKernelVersion()))
	d.kv(1, "OS Image", orUnknown(info.GetOsImage()))
	d.kv(1, "Architecture", orUnknown(info.GetArchitecture()))
	d.kv(1, "Agent Version", orUnknown(info.GetAgentVersion()))
	d.kv(1, "Cgroup Version", orUnknown(info.GetCgroupVersion()))
	d.kv(0, "Agent Endpoint", orNone(st.GetAgentEndpoint()))
	d.kv(0, "Running Pods", st.GetRunningPods())
}

func (d *describer) service(s *skiffv1.Service) {
	spec := s.GetSpec()
	d.mapping(0, "Selector", spec.GetSelector())
	d.kv(0, "Type", orDefault(spec.GetType(), skiffv1.ServiceTypeClusterIP))
	d.kv(0, "IP", orNone(spec.GetClusterIp()))
	if ips := spec.GetExternalIps(); len(ips) > 0 {
		d.kv(0, "External IPs", strings.Join(ips, ","))
	}
	if spec.GetType() == skiffv1.ServiceTypeLoadBalancer {
		if spec.LoadBalancerClass != nil {
			d.kv(0, "LoadBalancer Class", spec.GetLoadBalancerClass())
		}
		var ingress []string
		for _, in := range s.GetStatus().GetLoadBalancer().GetIngress() {
			ingress = append(ingress, cmp.Or(in.GetIp(), in.GetHostname()))
		}
		d.kv(0, "LoadBalancer Ingress", orDefault(strings.Join(ingress, ", "), "<pending>"))
	}
	if len(spec.GetPorts()) == 0 {
		d.kv(0, "Ports", "<none>")
	}
	for _, p := range spec.GetPorts() {
		name := orDefault(p.GetName(), "<unset>")
		d.kv(0, "Port", fmt.Sprintf("%s  %d/%s", name, p.GetPort(), orDefault(p.GetProtocol(), "TCP")))
		d.kv(0, "TargetPort", fmt.Sprintf("%s/%s", targetPort(p), orDefault(p.GetProtocol(), "TCP")))
		if p.GetNodePort() != 0 {
			d.kv(0, "NodePort", fmt.Sprintf("%s  %d/%s", name, p.GetNodePort(), orDefault(p.GetProtocol(), "TCP")))
		}
	}
	d.kv(0, "Endpoints", formatEndpoints(d.endpoints, 0))
	if notReady := endpointAddresses(d.endpoints, false); len(notReady) > 0 {
		d.kv(0, "Not Ready", strings.Join(notReady, ","))
	}
	affinity := orDefault(spec.GetSessionAffinity(), skiffv1.SessionAffinityNone)
	if t := skiffv1.AffinityTimeout(s); t > 0 {
		affinity = fmt.Sprintf("%s (timeout %ds)", affinity, t)
	}
	d.kv(0, "Session Affinity", affinity)
	if skiffv1.IsExternal(spec) || len(spec.GetExternalIps()) > 0 {
		d.kv(0, "External Traffic Policy", orDefault(spec.GetExternalTrafficPolicy(), skiffv1.TrafficPolicyCluster))
	}
	d.kv(0, "Internal Traffic Policy", orDefault(spec.GetInternalTrafficPolicy(), skiffv1.TrafficPolicyCluster))
}

// endpointSlices describes an Endpoints object as kubectl describes
// Endpoints' subsets: one block per set of ports.
func (d *describer) endpointSlices(ep *skiffv1.Endpoints) {
	if len(ep.GetSlices()) == 0 {
		d.kv(0, "Subsets", "<none>")
		return
	}
	d.head(0, "Subsets")
	for _, s := range ep.GetSlices() {
		var ready, notReady []string
		for _, e := range s.GetEndpoints() {
			ip := strings.Join(e.GetAddresses(), ",")
			switch c := e.GetConditions(); {
			case c.GetReady():
				ready = append(ready, ip)
			case c.GetTerminating():
				notReady = append(notReady, ip+" (terminating)")
			default:
				notReady = append(notReady, ip)
			}
		}
		d.kv(1, "Addresses", orNone(strings.Join(ready, ",")))
		d.kv(1, "NotReadyAddresses", orNone(strings.Join(notReady, ",")))
		var ports []string
		for _, p := range s.GetPorts() {
			ports = append(ports, fmt.Sprintf("%s %d/%s", orDefault(p.GetName(), "<unset>"), p.GetPort(), p.GetProtocol()))
		}
		d.kv(1, "Ports", orNone(strings.Join(ports, ", ")))
	}
}

func (d *describer) volume(v *skiffv1.Volume) {
	spec, st := v.GetSpec(), v.GetStatus()
	d.kv(0, "StorageClass", storageClass(spec.StorageClassName))
	d.kv(0, "Status", orDefault(st.GetPhase(), skiffv1.VolumePending))
	if spec.GetLocal() != nil || spec.GetHostPath() != nil || spec.GetNfs() != nil {
		d.kv(0, "Source", volumeSource(v))
		if spec.GetLocal() != nil {
			d.kv(0, "Node", orDefault(spec.GetLocal().GetNodeName(), "<not yet pinned: the first pod using it decides>"))
		}
	} else {
		d.kv(0, "Volume", orDefault(spec.GetVolumeName(), "<not bound yet>"))
	}
	d.kv(0, "Requested", orNone(spec.GetCapacity()))
	d.kv(0, "Capacity", orNone(st.GetCapacity()))
	d.kv(0, "Access Modes", accessMode(orDefault(spec.GetAccessMode(), "ReadWriteOnce")))
	d.kv(0, "VolumeMode", "Filesystem")
	d.kv(0, "Used By", orNone(strings.Join(st.GetUsedBy(), ", ")))
}

func (d *describer) persistentVolume(pv *skiffv1.PersistentVolume) {
	spec, st := pv.GetSpec(), pv.GetStatus()
	d.kv(0, "StorageClass", spec.GetStorageClassName())
	d.kv(0, "Status", orNone(st.GetPhase()))
	claim := ""
	if ref := spec.GetClaimRef(); ref != nil {
		claim = ref.GetNamespace() + "/" + ref.GetName()
	}
	d.kv(0, "Claim", claim)
	d.kv(0, "Reclaim Policy", spec.GetPersistentVolumeReclaimPolicy())
	var modes []string
	for _, m := range spec.GetAccessModes() {
		modes = append(modes, accessMode(m))
	}
	d.kv(0, "Access Modes", strings.Join(modes, ","))
	d.kv(0, "VolumeMode", spec.GetVolumeMode())
	d.kv(0, "Capacity", spec.GetCapacity()["storage"])
	if sel := spec.GetNodeAffinity().GetRequired(); sel != nil {
		d.head(0, "Node Affinity")
		d.head(1, "Required Terms")
		for _, t := range sel.GetNodeSelectorTerms() {
			var reqs []string
			for _, r := range t.GetMatchExpressions() {
				reqs = append(reqs, fmt.Sprintf("%s %s [%s]", r.GetKey(), r.GetOperator(), strings.Join(r.GetValues(), ", ")))
			}
			for _, r := range t.GetMatchFields() {
				reqs = append(reqs, fmt.Sprintf("%s %s [%s]", r.GetKey(), r.GetOperator(), strings.Join(r.GetValues(), ", ")))
			}
			d.kv(2, "Term", strings.Join(reqs, " and "))
		}
	} else {
		d.kv(0, "Node Affinity", "<none>")
	}
	if st.GetMessage() != "" {
		d.kv(0, "Message", st.GetMessage())
	}
	d.head(0, "Source")
	switch {
	case spec.GetHostPath() != nil:
		d.kv(1, "Type", "HostPath (bare host directory volume)")
		d.kv(1, "Path", spec.GetHostPath().GetPath())
	case spec.GetLocal() != nil:
		d.kv(1, "Type", "LocalVolume (a persistent volume backed by local storage on a node)")
		d.kv(1, "Path", spec.GetLocal().GetPath())
	}
}

func (d *describer) replicaSet(rs *skiffv1.ReplicaSet) {
	spec, st := rs.GetSpec(), rs.GetStatus()
	d.kv(0, "Selector", orNone(formatSelector(spec.GetSelector())))
	d.kv(0, "Replicas", fmt.Sprintf("%d current / %d desired", st.GetReplicas(), desiredReplicas(spec.Replicas)))
	d.kv(0, "Pods Status", fmt.Sprintf("%d Ready / %d Available", st.GetReadyReplicas(), st.GetAvailableReplicas()))
	d.podTemplate(spec.GetTemplate())
	d.conditions(st.GetConditions())
}

// replicationController is a replica set's layout, its selector a map.
func (d *describer) replicationController(rc *skiffv1.ReplicationController) {
	spec, st := rc.GetSpec(), rc.GetStatus()
	d.kv(0, "Selector", orNone(formatSelector(&skiffv1.LabelSelector{MatchLabels: spec.GetSelector()})))
	d.kv(0, "Replicas", fmt.Sprintf("%d current / %d desired", st.GetReplicas(), desiredReplicas(spec.Replicas)))
	d.kv(0, "Pods Status", fmt.Sprintf("%d Ready / %d Available / %d Fully Labeled", st.GetReadyReplicas(), st.GetAvailableReplicas(), st.GetFullyLabeledReplicas()))
	d.podTemplate(spec.GetTemplate())
	d.conditions(st.GetConditions())
}

func (d *describer) podTemplate(t *skiffv1.PodTemplateSpec) {
	d.head(0, "Pod Template")
	d.mapping(1, "Labels", t.GetMetadata().GetLabels())
	if a := t.GetMetadata().GetAnnotations(); len(a) > 0 {
		d.mapping(1, "Annotations", a)
	}
	d.head(1, "Containers")
	for _, c := range t.GetSpec().GetContainers() {
		d.head(2, c.GetName())
		d.kv(3, "Image", c.GetImage())
		d.resources(3, "Requests", c.GetResources().GetRequests())
		d.resources(3, "Limits", c.GetResources().GetLimits())
	}
}

// deployment is kubectl's layout; d.sets holds the replica sets it owns.
func (d *describer) deployment(dp *skiffv1.Deployment) {
	spec, st := dp.GetSpec(), dp.GetStatus()
	d.kv(0, "Selector", orNone(formatSelector(spec.GetSelector())))
	d.kv(0, "Replicas", fmt.Sprintf("%d desired | %d updated | %d total | %d available | %d unavailable",
		desiredReplicas(spec.Replicas), st.GetUpdatedReplicas(), st.GetReplicas(), st.GetAvailableReplicas(), st.GetUnavailableReplicas()))
	d.kv(0, "StrategyType", spec.GetStrategy().GetType())
	d.kv(0, "MinReadySeconds", spec.GetMinReadySeconds())
	if ru := spec.GetStrategy().GetRollingUpdate(); ru != nil {
		d.kv(0, "RollingUpdateStrategy", fmt.Sprintf("%s max unavailable, %s max surge", ru.GetMaxUnavailable(), ru.GetMaxSurge()))
	}
	if spec.GetPaused() {
		d.kv(0, "Paused", "true")
	}
	d.podTemplate(spec.GetTemplate())
	d.conditions(st.GetConditions())
	var old []string
	newRS := "<none>"
	for _, rs := range d.sets {
		desc := fmt.Sprintf("%s (%d/%d replicas created)", rs.GetMetadata().GetName(), rs.GetStatus().GetReplicas(), desiredReplicas(rs.GetSpec().Replicas))
		switch {
		case rollout.SameTemplate(spec.GetTemplate(), rs.GetSpec().GetTemplate()):
			newRS = desc
		case rs.GetSpec().GetReplicas() > 0 || rs.GetStatus().GetReplicas() > 0:
			old = append(old, desc)
		}
	}
	d.kv(0, "OldReplicaSets", orNone(strings.Join(old, ", ")))
	d.kv(0, "NewReplicaSet", newRS)
}

func (d *describer) autoscaler(a *skiffv1.Autoscaler) {
	spec, st := a.GetSpec(), a.GetStatus()
	d.kv(0, "Target", autoscalerTarget(a))
	cur := "<unknown>"
	if c := st.CurrentCpuUtilizationPercent; c != nil {
		cur = fmt.Sprintf("%d%%", *c)
	}
	if len(spec.GetMetrics()) == 0 {
		d.kv(0, "CPU Utilization", fmt.Sprintf("%s (target %d%% of requests)", cur, targetCPU(a)))
	} else {
		d.kv(0, "Metrics", "( current / target )")
		for _, m := range strings.Split(autoscalerCPU(a), ", ") {
			d.kv(1, "resource", m)
		}
	}
	d.kv(0, "Min Replicas", minReplicas(a))
	d.kv(0, "Max Replicas", spec.GetMaxReplicas())
	d.kv(0, "Replicas", fmt.Sprintf("%d current / %d desired", st.GetCurrentReplicas(), st.GetDesiredReplicas()))
	if st.GetLastScaleTime() != nil {
		d.kv(0, "Last Scaled", d.time(st.GetLastScaleTime()))
	}
	d.conditions(st.GetConditions())
}

func toleration(t *skiffv1.Toleration) string {
	s := t.GetKey()
	if t.GetOperator() == "Exists" {
		if s == "" {
			s = "<every taint>"
		}
	} else if t.GetValue() != "" {
		s += "=" + t.GetValue()
	}
	if t.GetEffect() != "" {
		s += ":" + t.GetEffect()
	}
	if t.TolerationSeconds != nil {
		s += fmt.Sprintf(" for %ds", *t.TolerationSeconds)
	}
	return s
}

func probe(p *skiffv1.Probe) string {
	var what string
	switch {
	case p.GetExec() != nil:
		what = "exec [" + strings.Join(p.GetExec().GetCommand(), " ") + "]"
	case p.GetHttpGet() != nil:
		what = httpGetAction(p.GetHttpGet())
	case p.GetGrpc() != nil:
		what = fmt.Sprintf("grpc <pod>:%d %s", p.GetGrpc().GetPort(), p.GetGrpc().GetService())
	case p.GetTcpSocket() != nil:
		what = fmt.Sprintf("tcp-socket :%d", p.GetTcpSocket().GetPort())
	default:
		what = "<no action>"
	}
	return fmt.Sprintf("%s delay=%ds timeout=%ds period=%ds #success=%d #failure=%d", what,
		p.GetInitialDelaySeconds(), nz(p.GetTimeoutSeconds(), 1), nz(p.GetPeriodSeconds(), 10),
		nz(p.GetSuccessThreshold(), 1), nz(p.GetFailureThreshold(), 3))
}

func nz(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
