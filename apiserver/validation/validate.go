package validation

import (
	"fmt"
	"net"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/intorpercent"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// MaxObjectBytes is the largest object the server stores, as etcd's default
// request limit is a little over it.
const MaxObjectBytes = 1 << 20

// Events are small and many, and anyone who runs pods makes them: their
// message is cut to MaxEventMessageBytes (as Kubernetes' events.k8s.io
// note) and a whole event may be at most MaxEventBytes.
const (
	MaxEventMessageBytes = 1024
	MaxEventBytes        = 8 << 10
)

// Validate checks a whole object (defaults already applied).
func Validate(obj skiffv1.Resource) error {
	e := &errs{}
	info, _ := skiffv1.Info(skiffv1.KindOf(obj))
	validateMeta(e, obj.GetMetadata(), info)
	switch o := obj.(type) {
	case *skiffv1.Namespace:
	case *skiffv1.Node:
		validateNode(e, o)
	case *skiffv1.Pod:
		validatePodSpec(e, "spec", o.GetSpec())
	case *skiffv1.Service:
		validateService(e, o.GetSpec())
		validateServiceStatus(e, o.GetStatus())
	case *skiffv1.Volume:
		validateVolume(e, o.GetSpec())
	case *skiffv1.ReplicaSet:
		validateReplicaSet(e, o.GetSpec())
	case *skiffv1.ReplicationController:
		validateReplicationController(e, o.GetSpec())
	case *skiffv1.Autoscaler:
		validateAutoscaler(e, o.GetSpec())
	case *skiffv1.ConfigMap:
		validateConfigMap(e, o)
	case *skiffv1.Secret:
		validateSecret(e, o)
	case *skiffv1.Deployment:
		validateDeployment(e, o.GetSpec())
	case *skiffv1.Endpoints:
		validateEndpoints(e, o)
	case *skiffv1.Job:
		validateJob(e, o.GetSpec())
	case *skiffv1.CronJob:
		validateCronJob(e, o)
	case *skiffv1.DaemonSet:
		validateDaemonSet(e, o.GetSpec())
	case *skiffv1.StatefulSet:
		validateStatefulSet(e, o.GetSpec())
	case *skiffv1.PersistentVolume:
		validatePersistentVolume(e, o.GetSpec())
	case *skiffv1.Lease:
		validateLease(e, o.GetSpec())
	case *skiffv1.Event:
		if o.GetInvolvedObject().GetName() == "" {
			e.add("involvedObject.name", "required")
		}
		if o.GetReason() == "" {
			e.add("reason", "required")
		}
		checkOneOf(e, "type", o.GetType(), "Normal", "Warning")
		if n := proto.Size(o); n > MaxEventBytes {
			e.add("", "the event is %d bytes; the limit is %d (8 KiB)", n, MaxEventBytes)
		}
	}
	if n := proto.Size(obj); n > MaxObjectBytes {
		e.add("", "the object is %d bytes; the limit is %d (1 MiB)", n, MaxObjectBytes)
	}
	return e.err()
}

func validateMeta(e *errs, m *skiffv1.ObjectMeta, info skiffv1.KindInfo) {
	if m == nil {
		e.add("metadata", "required")
		return
	}
	if subdomainNamed(info) {
		checkSubdomain(e, "metadata.name", m.Name)
	} else {
		checkLabel(e, "metadata.name", m.Name)
	}
	if info.Namespaced {
		checkLabel(e, "metadata.namespace", m.Namespace)
	} else if m.Namespace != "" {
		e.add("metadata.namespace", "a %s is not in a namespace; leave it out", info.Name)
	}
	checkLabels(e, "metadata.labels", m.Labels)
	if a := m.GetAppliedAs(); a != nil {
		if t, ok := skiffv1.LookupKubernetesType(a.ApiVersion, a.Kind); !ok || t.HeldBy != info.Kind {
			e.add("metadata.appliedAs", "%s %s is not a Kubernetes type a %s is served as", a.ApiVersion, a.Kind, info.Name)
		}
	}
	for i, o := range m.OwnerReferences {
		p := idx("metadata.ownerReferences", i)
		if o.Kind == "" {
			e.add(p+".kind", "required")
		}
		if o.Name == "" {
			e.add(p+".name", "required")
		}
		if o.Uid == "" {
			e.add(p+".uid", "required")
		}
	}
}

func validateNode(e *errs, n *skiffv1.Node) {
	if c := n.GetSpec().GetPodCidr(); c != "" {
		if _, _, err := net.ParseCIDR(c); err != nil {
			e.add("spec.podCIDR", "%q is not a CIDR", c)
		}
	}
	for i, t := range n.GetSpec().GetTaints() {
		p := idx("spec.taints", i)
		if err := labels.ValidateKey(t.Key); err != nil {
			e.add(p+".key", "%v", err)
		}
		checkOneOf(e, p+".effect", t.Effect, "NoSchedule", "PreferNoSchedule", "NoExecute")
	}
	for _, m := range []struct {
		path string
		vals map[string]string
	}{{"status.capacity", n.GetStatus().GetCapacity()}, {"status.allocatable", n.GetStatus().GetAllocatable()}} {
		for k, v := range m.vals {
			checkQuantity(e, m.path+"."+k, v)
		}
	}
}

func validatePodSpec(e *errs, path string, s *skiffv1.PodSpec) {
	if s == nil {
		e.add(path, "required")
		return
	}
	if len(s.Containers) == 0 {
		e.add(path+".containers", "at least one container is required")
	}
	if s.Hostname != "" {
		checkLabel(e, path+".hostname", s.Hostname)
	}
	if s.Subdomain != "" {
		checkLabel(e, path+".subdomain", s.Subdomain)
	}
	validateAffinity(e, path+".affinity", s.Affinity)
	validateTopologySpread(e, path+".topologySpreadConstraints", s.TopologySpreadConstraints)
	volumes := map[string]bool{}
	for i, v := range s.Volumes {
		p := idx(path+".volumes", i)
		checkLabel(e, p+".name", v.Name)
		if volumes[v.Name] {
			e.add(p+".name", "%q is used by another volume", v.Name)
		}
		volumes[v.Name] = true
		sources := 0
		if v.EmptyDir != nil {
			sources++
			if v.EmptyDir.Medium != "" {
				checkOneOf(e, p+".emptyDir.medium", v.EmptyDir.Medium, "", "Memory")
			}
			if v.EmptyDir.SizeLimit != "" {
				checkQuantity(e, p+".emptyDir.sizeLimit", v.EmptyDir.SizeLimit)
			}
		}
		if v.HostPath != nil {
			sources++
			checkHostPath(e, p+".hostPath", v.HostPath)
		}
		if v.Volume != nil {
			sources++
			checkLabel(e, p+".volume.name", v.Volume.Name)
		}
		sources += validateConfigVolume(e, p, v)
		if sources != 1 {
			e.add(p, "exactly one of emptyDir, hostPath, volume, configMap, secret, projected or downwardAPI must be set")
		}
	}
	names := map[string]bool{}
	hostPorts := map[string]bool{}
	for _, pc := range containersWithPaths(path, s) {
		p, c := pc.path, pc.c
		checkLabel(e, p+".name", c.Name)
		if names[c.Name] {
			e.add(p+".name", "%q is used by another container; container names must be unique", c.Name)
		}
		names[c.Name] = true
		if strings.TrimSpace(c.Image) == "" {
			e.add(p+".image", "required")
		}
		checkOneOf(e, p+".imagePullPolicy", c.ImagePullPolicy, "Always", "IfNotPresent", "Never")
		for j, env := range c.Env {
			if !envName.MatchString(env.Name) {
				e.add(idx(p+".env", j)+".name", "%q is not a valid environment variable name", env.Name)
			}
			validateEnvSource(e, idx(p+".env", j), env)
		}
		validateEnvFrom(e, p+".envFrom", c.EnvFrom)
		if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
			e.add(p+".workingDir", "%q must be an absolute path", c.WorkingDir)
		}
		portNames := map[string]bool{}
		for j, port := range c.Ports {
			pp := idx(p+".ports", j)
			checkPort(e, pp+".containerPort", port.ContainerPort, true)
			checkPort(e, pp+".hostPort", port.HostPort, false)
			checkOneOf(e, pp+".protocol", port.Protocol, "TCP", "UDP")
			if port.Name != "" {
				if len(port.Name) > 15 || !portName.MatchString(port.Name) {
					e.add(pp+".name", "%q is not a valid port name: lower-case letters, digits and '-', at most 15 characters", port.Name)
				}
				if portNames[port.Name] {
					e.add(pp+".name", "%q is used by another port", port.Name)
				}
				portNames[port.Name] = true
			}
			if port.HostPort != 0 {
				k := fmt.Sprintf("%s/%d", port.Protocol, port.HostPort)
				if hostPorts[k] {
					e.add(pp+".hostPort", "%d/%s is used by another container of the pod", port.HostPort, port.Protocol)
				}
				hostPorts[k] = true
			}
		}
		validateResources(e, p+".resources", c.Resources)
		for j, m := range c.VolumeMounts {
			mp := idx(p+".volumeMounts", j)
			if !volumes[m.Name] {
				e.add(mp+".name", "%q is not a volume of the pod", m.Name)
			}
			if !strings.HasPrefix(m.MountPath, "/") {
				e.add(mp+".mountPath", "%q must be an absolute path", m.MountPath)
			}
			if strings.Contains(m.SubPath, "..") || strings.HasPrefix(m.SubPath, "/") {
				e.add(mp+".subPath", "%q must be a relative path without '..'", m.SubPath)
			}
		}
		validateProbe(e, p+".livenessProbe", c.LivenessProbe)
		validateProbe(e, p+".readinessProbe", c.ReadinessProbe)
		validateLifecycleFields(e, p, c, pc.init)
	}
	validatePodLifecycle(e, path, s)
	checkOneOf(e, path+".restartPolicy", s.RestartPolicy, "Always", "OnFailure", "Never")
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		e.add(path+".terminationGracePeriodSeconds", "must not be negative")
	}
	for k, v := range s.NodeSelector {
		if err := labels.ValidateKey(k); err != nil {
			e.add(path+".nodeSelector", "%v", err)
		}
		if err := labels.ValidateValue(v); err != nil {
			e.add(path+".nodeSelector."+k, "%v", err)
		}
	}
	for i, r := range s.ImagePullSecrets {
		checkSubdomain(e, idx(path+".imagePullSecrets", i)+".name", r.GetName())
	}
	for i, t := range s.Tolerations {
		p := idx(path+".tolerations", i)
		checkOneOf(e, p+".operator", t.Operator, "Equal", "Exists")
		if t.Operator == "Exists" && t.Value != "" {
			e.add(p+".value", "must be empty when operator is Exists")
		}
		if t.Key == "" && t.Operator != "Exists" {
			e.add(p+".key", "an empty key requires operator Exists")
		}
		if t.Effect != "" {
			checkOneOf(e, p+".effect", t.Effect, "NoSchedule", "PreferNoSchedule", "NoExecute")
		}
	}
	if s.NodeName != "" {
		checkSubdomain(e, path+".nodeName", s.NodeName)
	}
	validatePodEnv(e, path, s)
}

func validateResources(e *errs, path string, r *skiffv1.ResourceRequirements) {
	if r == nil {
		return
	}
	known := func(p, name string) bool {
		if name != "cpu" && name != "memory" {
			e.add(p+"."+name, "unknown resource; use cpu or memory")
			return false
		}
		return true
	}
	for name, v := range r.Requests {
		if known(path+".requests", name) {
			checkQuantity(e, path+".requests."+name, v)
		}
	}
	for name, v := range r.Limits {
		if !known(path+".limits", name) {
			continue
		}
		lim, ok := checkQuantity(e, path+".limits."+name, v)
		if !ok {
			continue
		}
		if name == "memory" && lim.Value() > 0 && lim.Value() < 4096 {
			e.add(path+".limits.memory", "%q is below one page (4Ki); no process runs in that", v)
		}
		if req, has := r.Requests[name]; has {
			if rq, err := quantity.Parse(req); err == nil && rq.Cmp(lim) > 0 {
				e.add(path+".requests."+name, "%q must not exceed the limit %q", req, v)
			}
		}
	}
}

func validateProbe(e *errs, path string, p *skiffv1.Probe) {
	if p == nil {
		return
	}
	handlers := 0
	if p.Exec != nil {
		handlers++
		if len(p.Exec.Command) == 0 {
			e.add(path+".exec.command", "required")
		}
	}
	if p.TcpSocket != nil {
		handlers++
		checkPort(e, path+".tcpSocket.port", p.TcpSocket.Port, true)
	}
	if p.HttpGet != nil {
		handlers++
		validateHTTPGet(e, path+".httpGet", p.HttpGet)
	}
	if p.Grpc != nil {
		handlers++
		checkPort(e, path+".grpc.port", p.Grpc.Port, true)
	}
	if handlers != 1 {
		e.add(path, "exactly one of exec, tcpSocket, httpGet or grpc must be set")
	}
	if g := p.TerminationGracePeriodSeconds; g != nil && *g < 1 {
		e.add(path+".terminationGracePeriodSeconds", "must be at least 1")
	}
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", p.InitialDelaySeconds}, {"periodSeconds", p.PeriodSeconds}, {"timeoutSeconds", p.TimeoutSeconds}, {"successThreshold", p.SuccessThreshold}, {"failureThreshold", p.FailureThreshold}} {
		if f.v < 0 {
			e.add(path+"."+f.name, "must not be negative")
		}
	}
}

func validateVolume(e *errs, s *skiffv1.VolumeSpec) {
	checkOneOf(e, "spec.accessMode", s.GetAccessMode(), "ReadWriteOnce", "ReadWriteMany")
	if s.GetCapacity() != "" {
		checkQuantity(e, "spec.capacity", s.Capacity)
	}
	sources := 0
	if s.GetLocal() != nil {
		sources++
		if n := s.Local.NodeName; n != "" {
			checkSubdomain(e, "spec.local.nodeName", n)
		}
	}
	if s.GetHostPath() != nil {
		sources++
		checkHostPath(e, "spec.hostPath", s.HostPath)
	}
	if s.GetNfs() != nil {
		sources++
		if s.Nfs.Server == "" {
			e.add("spec.nfs.server", "required")
		}
		if !strings.HasPrefix(s.Nfs.Path, "/") {
			e.add("spec.nfs.path", "%q must be an absolute path", s.Nfs.Path)
		}
	}
	if sources > 1 {
		e.add("spec", "at most one of local, hostPath or nfs may be set (none makes the Volume a claim bound to a PersistentVolume)")
	}
	if c := s.GetStorageClassName(); c != "" {
		checkSubdomain(e, "spec.storageClassName", c)
	}
	if n := s.GetVolumeName(); n != "" {
		checkSubdomain(e, "spec.volumeName", n)
		if sources > 0 {
			e.add("spec.volumeName", "only a claim (a Volume without local, hostPath or nfs) is bound to a PersistentVolume")
		}
	}
}

func validateReplicaSet(e *errs, s *skiffv1.ReplicaSetSpec) {
	validatePodSet(e, "replica set", s.GetReplicas(), s.GetSelector(), s.GetTemplate())
	if s.GetMinReadySeconds() < 0 {
		e.add("spec.minReadySeconds", "%d must not be negative", s.GetMinReadySeconds())
	}
}

// validatePodSet checks what replica sets and deployments share: a count,
// a selector and the template it must select.
func validatePodSet(e *errs, what string, replicas int32, selector *skiffv1.LabelSelector, tmpl *skiffv1.PodTemplateSpec) {
	if replicas < 0 {
		e.add("spec.replicas", "%d must not be negative", replicas)
	}
	if tmpl == nil {
		e.add("spec.template", "required")
		return
	}
	sel, err := labels.FromLabelSelector(selector)
	if err != nil {
		e.add("spec.selector", "%v", err)
	} else if sel.Empty() {
		e.add("spec.selector", "required: a %s must select its pods by label", what)
	} else if !sel.Matches(tmpl.GetMetadata().GetLabels()) {
		e.add("spec.selector", "%q does not match the template's labels %v; the %s would never see its own pods", sel.String(), tmpl.GetMetadata().GetLabels(), what)
	}
	checkLabels(e, "spec.template.metadata.labels", tmpl.GetMetadata().GetLabels())
	validatePodSpec(e, "spec.template.spec", tmpl.GetSpec())
	if tmpl.GetSpec().GetNodeName() != "" {
		e.add("spec.template.spec.nodeName", "must be empty; the scheduler places the pods")
	}
}

func validateDeployment(e *errs, s *skiffv1.DeploymentSpec) {
	validatePodSet(e, "deployment", s.GetReplicas(), s.GetSelector(), s.GetTemplate())
	if s.GetMinReadySeconds() < 0 {
		e.add("spec.minReadySeconds", "%d must not be negative", s.GetMinReadySeconds())
	}
	if s.GetRevisionHistoryLimit() < 0 {
		e.add("spec.revisionHistoryLimit", "%d must not be negative", s.GetRevisionHistoryLimit())
	}
	if d := s.GetProgressDeadlineSeconds(); d <= s.GetMinReadySeconds() {
		e.add("spec.progressDeadlineSeconds", "%d must be greater than minReadySeconds (%d)", d, s.GetMinReadySeconds())
	}
	st := s.GetStrategy()
	checkOneOf(e, "spec.strategy.type", st.GetType(), "RollingUpdate", "Recreate")
	ru := st.GetRollingUpdate()
	if st.GetType() == "Recreate" {
		if ru != nil {
			e.add("spec.strategy.rollingUpdate", "must be left out when the strategy type is Recreate")
		}
		return
	}
	surge, errS := intorpercent.Parse(ru.GetMaxSurge())
	if errS != nil {
		e.add("spec.strategy.rollingUpdate.maxSurge", "%v", errS)
	}
	unavail, errU := intorpercent.Parse(ru.GetMaxUnavailable())
	if errU != nil {
		e.add("spec.strategy.rollingUpdate.maxUnavailable", "%v", errU)
	} else if unavail.IsPercent() && unavail.Int() > 100 {
		e.add("spec.strategy.rollingUpdate.maxUnavailable", "%q must not be more than 100%%", ru.GetMaxUnavailable())
	}
	if errS == nil && errU == nil && surge.Int() == 0 && unavail.Int() == 0 {
		e.add("spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when maxSurge is 0 too: the rollout could never progress")
	}
}

func validateAutoscaler(e *errs, s *skiffv1.AutoscalerSpec) {
	checkLabel(e, "spec.target", s.GetTarget())
	checkOneOf(e, "spec.targetKind", s.GetTargetKind(), "ReplicaSet", "Deployment")
	if s.GetMinReplicas() < 1 {
		e.add("spec.minReplicas", "%d must be at least 1", s.GetMinReplicas())
	}
	if s.GetMaxReplicas() < s.GetMinReplicas() {
		e.add("spec.maxReplicas", "%d must be at least minReplicas (%d)", s.GetMaxReplicas(), s.GetMinReplicas())
	}
	if len(s.GetMetrics()) > 0 {
		if s.TargetCpuUtilizationPercent != nil {
			e.add("spec.targetCpuUtilizationPercent", "give either it or metrics, not both")
		}
	} else if p := s.GetTargetCpuUtilizationPercent(); p < 1 {
		e.add("spec.targetCpuUtilizationPercent", "%d must be at least 1", p)
	}
	for i, m := range s.GetMetrics() {
		validateMetric(e, idx("spec.metrics", i), m)
	}
	for _, r := range []struct {
		path  string
		rules *skiffv1.ScalingRules
	}{{"spec.behavior.scaleUp", s.GetBehavior().GetScaleUp()}, {"spec.behavior.scaleDown", s.GetBehavior().GetScaleDown()}} {
		if w := r.rules.GetStabilizationWindowSeconds(); w < 0 || w > 3600 {
			e.add(r.path+".stabilizationWindowSeconds", "%d must be between 0 and 3600", w)
		}
	}
}

// validateMetric checks one autoscaling metric: what the Autoscaler
// implements of Kubernetes' autoscaling/v2 ones.
func validateMetric(e *errs, path string, m *skiffv1.MetricSpec) {
	if m.GetType() != "Resource" {
		e.add(path+".type", "%q: only Resource metrics are supported by skiff yet", m.GetType())
		return
	}
	r := m.GetResource()
	checkOneOf(e, path+".resource.name", r.GetName(), "cpu", "memory")
	t := r.GetTarget()
	switch t.GetType() {
	case "Utilization":
		if t.GetAverageUtilization() < 1 {
			e.add(path+".resource.target.averageUtilization", "%d must be at least 1", t.GetAverageUtilization())
		}
		if t.GetAverageValue() != "" {
			e.add(path+".resource.target.averageValue", "must be empty for a Utilization target")
		}
	case "AverageValue":
		if q, ok := checkQuantity(e, path+".resource.target.averageValue", t.GetAverageValue()); ok && q.Sign() <= 0 {
			e.add(path+".resource.target.averageValue", "%q must be positive", t.GetAverageValue())
		}
		if t.AverageUtilization != nil {
			e.add(path+".resource.target.averageUtilization", "must be empty for an AverageValue target")
		}
	default:
		e.add(path+".resource.target.type", "%q: use Utilization or AverageValue", t.GetType())
	}
}

// checkHostPath checks a hostPath source at path: an absolute path and
// one of Kubernetes' HostPathTypes.
func checkHostPath(e *errs, path string, h *skiffv1.HostPathSource) {
	if !strings.HasPrefix(h.GetPath(), "/") {
		e.add(path+".path", "%q must be an absolute path", h.GetPath())
	}
	checkOneOf(e, path+".type", h.GetType(), "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
}
