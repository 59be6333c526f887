package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func basePod() *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
			Name: "main", Image: "busybox:1",
			Ports: []*skiffv1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
}

func TestPodValidation(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *skiffv1.Pod)
		want   string // "" means valid
	}{
		{"valid", func(p *skiffv1.Pod) {}, ""},
		{"bad name", func(p *skiffv1.Pod) { p.Metadata.Name = "Web_1" }, `metadata.name: "Web_1" is not a valid name`},
		{"long name", func(p *skiffv1.Pod) { p.Metadata.Name = strings.Repeat("a", 64) }, "metadata.name"},
		{"no containers", func(p *skiffv1.Pod) { p.Spec.Containers = nil }, "spec.containers: at least one container"},
		{"duplicate container", func(p *skiffv1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, &skiffv1.Container{Name: "main", Image: "x"})
		}, `spec.containers[1].name: "main" is used by another container`},
		{"no image", func(p *skiffv1.Pod) { p.Spec.Containers[0].Image = " " }, "spec.containers[0].image: required"},
		{"bad quantity", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Resources = &skiffv1.ResourceRequirements{Limits: map[string]string{"memory": "12XB"}}
		}, `spec.containers[0].resources.limits.memory: "12XB" is not a quantity`},
		{"unknown resource", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Resources = &skiffv1.ResourceRequirements{Requests: map[string]string{"gpu": "1"}}
		}, "spec.containers[0].resources.requests.gpu: unknown resource"},
		{"request over limit", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Resources = &skiffv1.ResourceRequirements{
				Requests: map[string]string{"cpu": "2"}, Limits: map[string]string{"cpu": "500m"}}
		}, `spec.containers[0].resources.requests.cpu: "2" must not exceed the limit "500m"`},
		{"negative", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Resources = &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "-1"}}
		}, "must not be negative"},
		{"port range", func(p *skiffv1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, "spec.containers[0].ports[0].containerPort: 70000 is not a port number"},
		{"port zero", func(p *skiffv1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, "containerPort: 0 is not a port number"},
		{"restart policy", func(p *skiffv1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, `spec.restartPolicy: "Sometimes" is not one of Always, OnFailure, Never`},
		{"mount of unknown volume", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []*skiffv1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, `spec.containers[0].volumeMounts[0].name: "data" is not a volume of the pod`},
		{"volume with two sources", func(p *skiffv1.Pod) {
			p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "v", EmptyDir: &skiffv1.EmptyDirSource{}, HostPath: &skiffv1.HostPathSource{Path: "/x"}}}
		}, "spec.volumes[0]: exactly one of"},
		{"image pull secret", func(p *skiffv1.Pod) {
			p.Spec.ImagePullSecrets = []*skiffv1.LocalObjectReference{{Name: "Reg_Cred"}}
		}, `spec.imagePullSecrets[0].name: "Reg_Cred" is not a valid name`},
		{"hostPath type", func(p *skiffv1.Pod) {
			p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "v", HostPath: &skiffv1.HostPathSource{Path: "/x", Type: "Folder"}}}
		}, `spec.volumes[0].hostPath.type: "Folder" is not one of , DirectoryOrCreate, Directory`},
		{"probe without handler", func(p *skiffv1.Pod) { p.Spec.Containers[0].LivenessProbe = &skiffv1.Probe{} }, "spec.containers[0].livenessProbe: exactly one of"},
		{"bad label", func(p *skiffv1.Pod) { p.Metadata.Labels = map[string]string{"app": "bad value!"} }, "metadata.labels.app"},
		{"env name", func(p *skiffv1.Pod) { p.Spec.Containers[0].Env = []*skiffv1.EnvVar{{Name: "1X"}} }, "spec.containers[0].env[0].name"},
		{"toleration", func(p *skiffv1.Pod) {
			p.Spec.Tolerations = []*skiffv1.Toleration{{Key: "k", Operator: "Exists", Value: "v"}}
		}, "spec.tolerations[0].value: must be empty"},
		{"tiny memory", func(p *skiffv1.Pod) {
			p.Spec.Containers[0].Resources = &skiffv1.ResourceRequirements{Limits: map[string]string{"memory": "100"}}
		}, "below one page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePod()
			c.mutate(p)
			wantValidation(t, p, c.want)
		})
	}
}

func TestOtherKinds(t *testing.T) {
	one := int32(1)
	cases := []struct {
		name string
		obj  skiffv1.Resource
		want string
	}{
		{"node in namespace", &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1", Namespace: "x"}}, "metadata.namespace: a Node is not in a namespace"},
		{"node name with dots ok", &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1.example.com"}}, ""},
		{"node bad capacity", &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}, Status: &skiffv1.NodeStatus{Capacity: map[string]string{"cpu": "lots"}}}, "status.capacity.cpu"},
		{"service port", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 0}}}}, "spec.ports[0].port"},
		{"service two unnamed ports", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 1}, {Port: 2}}}}, "spec.ports[0].name: required"},
		{"rs selector mismatch", &skiffv1.ReplicaSet{Metadata: &skiffv1.ObjectMeta{Name: "r", Namespace: "d"}, Spec: &skiffv1.ReplicaSetSpec{
			Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: basePod().Spec},
		}}, "does not match the template's labels"},
		{"rs selector defaulted", &skiffv1.ReplicaSet{Metadata: &skiffv1.ObjectMeta{Name: "r", Namespace: "d"}, Spec: &skiffv1.ReplicaSetSpec{
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: basePod().Spec},
		}}, ""},
		{"rs negative", &skiffv1.ReplicaSet{Metadata: &skiffv1.ObjectMeta{Name: "r", Namespace: "d"}, Spec: &skiffv1.ReplicaSetSpec{Replicas: proto.Int32(-1),
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: basePod().Spec},
		}}, "spec.replicas: -1 must not be negative"},
		{"autoscaler max<min", &skiffv1.Autoscaler{Metadata: &skiffv1.ObjectMeta{Name: "a", Namespace: "d"}, Spec: &skiffv1.AutoscalerSpec{Target: "web", MinReplicas: &one, MaxReplicas: 0}}, "spec.maxReplicas"},
		{"autoscaler memory metric", autoscaler(&skiffv1.MetricSpec{Type: "Resource", Resource: &skiffv1.ResourceMetricSource{Name: "memory", Target: &skiffv1.MetricTarget{Type: "AverageValue", AverageValue: "100Mi"}}}), ""},
		{"autoscaler pods metric", autoscaler(&skiffv1.MetricSpec{Type: "Pods"}), `spec.metrics[0].type: "Pods": only Resource metrics are supported by skiff yet`},
		{"autoscaler gpu metric", autoscaler(&skiffv1.MetricSpec{Type: "Resource", Resource: &skiffv1.ResourceMetricSource{Name: "gpu", Target: &skiffv1.MetricTarget{Type: "Utilization", AverageUtilization: &one}}}), "spec.metrics[0].resource.name"},
		{"autoscaler zero value", autoscaler(&skiffv1.MetricSpec{Type: "Resource", Resource: &skiffv1.ResourceMetricSource{Name: "cpu", Target: &skiffv1.MetricTarget{Type: "AverageValue", AverageValue: "0"}}}), `averageValue: "0" must be positive`},
		{"autoscaler window", &skiffv1.Autoscaler{Metadata: &skiffv1.ObjectMeta{Name: "a", Namespace: "d"}, Spec: &skiffv1.AutoscalerSpec{Target: "web", MaxReplicas: 2,
			Behavior: &skiffv1.AutoscalerBehavior{ScaleUp: &skiffv1.ScalingRules{StabilizationWindowSeconds: proto.Int32(4000)}}}}, "spec.behavior.scaleUp.stabilizationWindowSeconds: 4000 must be between 0 and 3600"},
		{"service LoadBalancer", svcSpec(&skiffv1.ServiceSpec{Type: "LoadBalancer", Ports: []*skiffv1.ServicePort{{Port: 80, NodePort: 30080}}}), ""},
		{"service ExternalName", svcSpec(&skiffv1.ServiceSpec{Type: "ExternalName"}), "spec.type: ExternalName is not supported by skiff yet"},
		{"service headless LoadBalancer", svcSpec(&skiffv1.ServiceSpec{Type: "LoadBalancer", ClusterIp: "None"}), "spec.clusterIP: None: a LoadBalancer service needs a ClusterIP"},
		{"service class on ClusterIP", svcSpec(&skiffv1.ServiceSpec{LoadBalancerClass: proto.String("example.com/lb")}), "spec.loadBalancerClass: may only be set when spec.type is LoadBalancer"},
		{"service class unqualified", svcSpec(&skiffv1.ServiceSpec{Type: "LoadBalancer", LoadBalancerClass: proto.String("metallb")}), `spec.loadBalancerClass: "metallb" is not a qualified name`},
		{"service class", svcSpec(&skiffv1.ServiceSpec{Type: "LoadBalancer", LoadBalancerClass: proto.String("example.com/lb")}), ""},
		{"service allocate on NodePort", svcSpec(&skiffv1.ServiceSpec{Type: "NodePort", AllocateLoadBalancerNodePorts: proto.Bool(false)}), "spec.allocateLoadBalancerNodePorts: may only be set when spec.type is LoadBalancer"},
		{"service source ranges", svcSpec(&skiffv1.ServiceSpec{Type: "LoadBalancer", LoadBalancerSourceRanges: []string{"10.0.0.0/8", " 192.0.2.0/24"}}), ""},
		{"service source range bad", svcSpec(&skiffv1.ServiceSpec{Type: "LoadBalancer", LoadBalancerSourceRanges: []string{"10.0.0.0/8", "10.1.0.0"}}), `spec.loadBalancerSourceRanges[1]: "10.1.0.0" is not an IPv4 CIDR`},
		{"service source ranges on NodePort", svcSpec(&skiffv1.ServiceSpec{Type: "NodePort", LoadBalancerSourceRanges: []string{"10.0.0.0/8"}}), "spec.loadBalancerSourceRanges[0]: may only be set when spec.type is LoadBalancer"},
		{"service externalIPs", svcSpec(&skiffv1.ServiceSpec{ExternalIps: []string{"192.0.2.7"}, ExternalTrafficPolicy: "Local"}), ""},
		{"service externalIP bad", svcSpec(&skiffv1.ServiceSpec{ExternalIps: []string{"192.0.2.7", "x"}}), `spec.externalIPs[1]: "x" is not an IPv4 address`},
		{"service externalIP loopback", svcSpec(&skiffv1.ServiceSpec{ExternalIps: []string{"127.0.0.2"}}), "spec.externalIPs[0]: 127.0.0.2 may not be"},
		{"service externalIP twice", svcSpec(&skiffv1.ServiceSpec{ExternalIps: []string{"192.0.2.7", "192.0.2.7"}}), "spec.externalIPs[1]: 192.0.2.7 is listed twice"},
		{"service external policy on ClusterIP", svcSpec(&skiffv1.ServiceSpec{ExternalTrafficPolicy: "Local"}), "spec.externalTrafficPolicy: may only be set for a NodePort or LoadBalancer service"},
		{"service ingress ip", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{Type: "LoadBalancer"},
			Status: &skiffv1.ServiceStatus{LoadBalancer: &skiffv1.LoadBalancerStatus{Ingress: []*skiffv1.LoadBalancerIngress{{Ip: "192.0.2.1", IpMode: proto.String("Proxy")}, {Ip: "nope"}}}}},
			`status.loadBalancer.ingress[1].ip: "nope" is not an IPv4 address`},
		{"service ingress ipMode", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{Type: "LoadBalancer"},
			Status: &skiffv1.ServiceStatus{LoadBalancer: &skiffv1.LoadBalancerStatus{Ingress: []*skiffv1.LoadBalancerIngress{{Ip: "192.0.2.1", IpMode: proto.String("Tunnel")}}}}},
			`status.loadBalancer.ingress[0].ipMode: "Tunnel" is not an ipMode`},
		{"service virtual IP", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{ClusterIp: "10.96.0.9"}}, ""},
		{"service bad IP", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{ClusterIp: "10.96.0.300"}}, "spec.clusterIP: \"10.96.0.300\" is not an IPv4 address"},
		{"service two clusterIPs", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{ClusterIp: "10.96.0.9", ClusterIps: []string{"10.96.0.9", "10.96.0.8"}}}, "spec.clusterIPs: skiff is single-stack"},
		{"service nodePort on ClusterIP", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 80, NodePort: 30001}}}}, "spec.ports[0].nodePort: may only be set when spec.type is NodePort or LoadBalancer"},
		{"service nodePort out of range", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{Type: "NodePort", Ports: []*skiffv1.ServicePort{{Port: 80, NodePort: 80}}}}, "spec.ports[0].nodePort: 80 is outside the node port range 30000-32767"},
		{"service headless NodePort", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{Type: "NodePort", ClusterIp: "None"}}, "spec.clusterIP: None: a NodePort service needs a ClusterIP"},
		{"service headless", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: &skiffv1.ServiceSpec{ClusterIp: "None"}}, ""},
		{"applied as something else", &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d", AppliedAs: &skiffv1.TypeMeta{ApiVersion: "apps/v1", Kind: "ReplicaSet"}}}, "metadata.appliedAs"},
		{"volume two sources", &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: "v", Namespace: "d"}, Spec: &skiffv1.VolumeSpec{Local: &skiffv1.LocalVolumeSource{}, HostPath: &skiffv1.HostPathSource{Path: "/x"}}}, "spec: at most one of"},
		{"volume access mode", &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: "v", Namespace: "d"}, Spec: &skiffv1.VolumeSpec{AccessMode: "ReadOnlyMany"}}, `spec.accessMode: "ReadOnlyMany"`},
		{"event without reason", &skiffv1.Event{Metadata: &skiffv1.ObjectMeta{Name: "e", Namespace: "d"}, InvolvedObject: &skiffv1.ObjectReference{Name: "x"}}, "reason: required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantValidation(t, c.obj, c.want)
		})
	}
}

// wantValidation defaults and validates obj: want "" means valid, else
// the error must contain want.
func wantValidation(t *testing.T, obj skiffv1.Resource, want string) {
	t.Helper()
	Default(obj)
	err := Validate(obj)
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// autoscaler is a valid autoscaler but for its metric.
func autoscaler(m *skiffv1.MetricSpec) *skiffv1.Autoscaler {
	return &skiffv1.Autoscaler{Metadata: &skiffv1.ObjectMeta{Name: "a", Namespace: "d"},
		Spec: &skiffv1.AutoscalerSpec{Target: "web", MaxReplicas: 2, Metrics: []*skiffv1.MetricSpec{m}}}
}

func TestPodSpecIsImmutableExceptImages(t *testing.T) {
	old := basePod()
	Default(old)
	img := proto.Clone(old).(*skiffv1.Pod)
	img.Spec.Containers[0].Image = "busybox:2"
	if err := ValidateUpdate(old, img); err != nil {
		t.Fatalf("image change refused: %v", err)
	}
	cmd := proto.Clone(old).(*skiffv1.Pod)
	cmd.Spec.Containers[0].Command = []string{"sh"}
	if err := ValidateUpdate(old, cmd); err == nil || !strings.Contains(err.Error(), "delete the pod") {
		t.Fatalf("command change: %v", err)
	}
}

// FuzzValidate feeds arbitrary bytes, decoded as each kind, through Default
// and Validate: they must never panic, and Validate must be deterministic.
func FuzzValidate(f *testing.F) {
	seed, _ := proto.Marshal(basePod())
	f.Add(seed, uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		kinds := skiffv1.Kinds()
		obj := kinds[int(k)%len(kinds)].New()
		if proto.Unmarshal(data, obj) != nil {
			return
		}
		Default(obj)
		e1 := Validate(obj)
		e2 := Validate(obj)
		if (e1 == nil) != (e2 == nil) || (e1 != nil && e1.Error() != e2.Error()) {
			t.Fatalf("Validate not deterministic: %v vs %v", e1, e2)
		}
	})
}

// Pod fields that name ConfigMaps and Secrets: every problem is told with
// its field.
func TestValidateConfigSources(t *testing.T) {
	bad := int32(0o1777)
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: &skiffv1.PodSpec{
			RestartPolicy: "Always",
			Containers: []*skiffv1.Container{{
				Name: "c", Image: "i", ImagePullPolicy: "IfNotPresent",
				Env: []*skiffv1.EnvVar{
					{Name: "A", Value: "x", ValueFrom: &skiffv1.EnvVarSource{ConfigMapKeyRef: &skiffv1.KeySelector{Name: "cm", Key: "k"}}},
					{Name: "B", ValueFrom: &skiffv1.EnvVarSource{}},
				},
				EnvFrom: []*skiffv1.EnvFromSource{{Prefix: "1X", ConfigMapRef: &skiffv1.ObjectRef{Name: "cm"}, SecretRef: &skiffv1.ObjectRef{Name: "s"}}},
			}},
			Volumes: []*skiffv1.PodVolume{
				{Name: "a", ConfigMap: &skiffv1.ConfigMapVolumeSource{Name: "cm", DefaultMode: &bad, Items: []*skiffv1.KeyToPath{{Key: "k", Path: "../up"}}}},
				{Name: "b", Projected: &skiffv1.ProjectedVolumeSource{Sources: []*skiffv1.VolumeProjection{{}}}},
				{Name: "c", Secret: &skiffv1.SecretVolumeSource{SecretName: "Bad_Name", Items: []*skiffv1.KeyToPath{{Key: "k", Path: "..data"}}}},
			},
		},
	}
	err := Validate(pod)
	for _, want := range []string{
		"spec.containers[0].env[0].valueFrom: may not be set when value is",
		"spec.containers[0].env[1].valueFrom: exactly one of configMapKeyRef, secretKeyRef, fieldRef or resourceFieldRef must be set",
		"spec.containers[0].envFrom[0]: exactly one of configMapRef or secretRef must be set",
		`spec.containers[0].envFrom[0].prefix: "1X" is not a valid start`,
		"spec.volumes[0].configMap.defaultMode: 1023 is not a file mode",
		`spec.volumes[0].configMap.items[0].path: "../up" must not contain '..'`,
		"spec.volumes[1].projected.sources[0]: exactly one of configMap, secret or downwardAPI must be set",
		`spec.volumes[2].secret.secretName: "Bad_Name" is not a valid name`,
		`spec.volumes[2].secret.items[0].path: "..data": a path element may not start with '..'`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
}

func svcSpec(spec *skiffv1.ServiceSpec) *skiffv1.Service {
	return &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "d"}, Spec: spec}
}
