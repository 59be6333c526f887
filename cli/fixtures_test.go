package cli

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func i32(v int32) *int32 { return &v }

// fixture fills the server with a fixed set of objects of every kind and
// sets the runner's clock 50 hours after their creation, so that AGE reads
// "2d2h" for everything the server stamped. Times the test sets itself are
// given as "this long before the clock", in steps coarse enough (whole
// minutes over 10m) that the seconds the setup takes do not show.
func fixture(t *testing.T, r *runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := r.srv.Client
	t0 := time.Now()
	ago := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(50*time.Hour - d)) }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	meta := func(ns, name string, labels map[string]string) *skiffv1.ObjectMeta {
		return &skiffv1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}
	}

	must(c.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: meta("", "team", nil)}))

	must(c.Nodes().Create(ctx, &skiffv1.Node{
		Metadata: meta("", "node1", map[string]string{"node-role.skiff.sh/control-plane": ""}),
		Status: &skiffv1.NodeStatus{
			Capacity:    map[string]string{"cpu": "2", "memory": "4Gi", "pods": "110"},
			Allocatable: map[string]string{"cpu": "2", "memory": "3900Mi", "pods": "110"},
			Conditions:  []*skiffv1.Condition{{Type: "Ready", Status: "True", Reason: "AgentReady", Message: "agent is posting status", LastTransitionTime: ago(150 * time.Minute)}},
			Addresses:   []*skiffv1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "Hostname", Address: "node1"}},
			NodeInfo: &skiffv1.NodeSystemInfo{KernelVersion: "6.1.0-18-amd64", OsImage: "Debian GNU/Linux 12 (bookworm)",
				Architecture: "amd64", AgentVersion: "v0.1.0", CgroupVersion: "v2"},
			AgentEndpoint: "10.0.0.1:10250",
			RunningPods:   3,
		},
	}))
	must(c.Nodes().Create(ctx, &skiffv1.Node{
		Metadata: meta("", "node2", nil),
		Spec:     &skiffv1.NodeSpec{Unschedulable: true, Taints: []*skiffv1.Taint{{Key: "skiff.sh/unreachable", Effect: "NoExecute"}}},
		Status: &skiffv1.NodeStatus{
			Conditions: []*skiffv1.Condition{{Type: "Ready", Status: "False", Reason: "HeartbeatMissed", LastTransitionTime: ago(20 * time.Minute)}},
			Addresses:  []*skiffv1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.2"}},
			NodeInfo:   &skiffv1.NodeSystemInfo{KernelVersion: "6.1.0-18-amd64", OsImage: "Debian GNU/Linux 12 (bookworm)", AgentVersion: "v0.1.0"},
		},
	}))

	pod := func(ns, name string, labels map[string]string, containers ...*skiffv1.Container) *skiffv1.Pod {
		return &skiffv1.Pod{Metadata: meta(ns, name, labels), Spec: &skiffv1.PodSpec{Containers: containers}}
	}
	web := pod("default", "web", map[string]string{"app": "web"}, &skiffv1.Container{
		Name: "app", Image: "registry.local/web:1",
		Ports:          []*skiffv1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Resources:      &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m", "memory": "64Mi"}, Limits: map[string]string{"memory": "128Mi"}},
		Env:            []*skiffv1.EnvVar{{Name: "MODE", Value: "production"}},
		VolumeMounts:   []*skiffv1.VolumeMount{{Name: "cache", MountPath: "/cache"}},
		ReadinessProbe: &skiffv1.Probe{HttpGet: &skiffv1.HTTPGetAction{Path: "/healthz", Port: 8080}},
	})
	web.Spec.Volumes = []*skiffv1.PodVolume{{Name: "cache", EmptyDir: &skiffv1.EmptyDirSource{}}}
	crash := pod("default", "crash", nil, &skiffv1.Container{Name: "app", Image: "busybox:1.36", Command: []string{"sh", "-c", "exit 1"}})
	pending := pod("default", "pending", nil, &skiffv1.Container{Name: "app", Image: "busybox:1.36"})
	done := pod("default", "done", nil, &skiffv1.Container{Name: "job", Image: "busybox:1.36"})
	done.Spec.RestartPolicy = "Never"
	old := pod("default", "old", nil, &skiffv1.Container{Name: "app", Image: "busybox:1.36"})
	api := pod("team", "api", map[string]string{"app": "api"}, &skiffv1.Container{Name: "api", Image: "registry.local/api:2"})
	for _, p := range []*skiffv1.Pod{web, crash, pending, done, old, api} {
		must(c.Pods().Create(ctx, p))
	}
	for _, b := range []struct{ ns, name, node string }{
		{"default", "web", "node1"}, {"default", "crash", "node1"}, {"default", "done", "node2"},
		{"default", "old", "node1"}, {"team", "api", "node1"},
	} {
		must(c.Bind(ctx, b.ns, b.name, b.node, "", ""))
	}
	running := func(ip string, ready bool) func(*skiffv1.Pod) error {
		return func(p *skiffv1.Pod) error {
			p.Status.Phase = "Running"
			p.Status.PodIp = ip
			p.Status.HostIp = "10.0.0.1"
			p.Status.StartTime = ago(45*time.Minute + 30*time.Second)
			rs := "False"
			if ready {
				rs = "True"
			}
			p.Status.Conditions = append(p.Status.Conditions, &skiffv1.Condition{Type: "Ready", Status: rs, LastTransitionTime: ago(44*time.Minute + 30*time.Second)})
			for _, ct := range p.Spec.Containers {
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &skiffv1.ContainerStatus{
					Name: ct.Name, Ready: ready, Image: ct.Image, ImageId: "sha256:0123456789ab",
					State: &skiffv1.ContainerState{Running: &skiffv1.ContainerStateRunning{StartedAt: ago(45*time.Minute + 30*time.Second)}},
				})
			}
			return nil
		}
	}
	must(c.Pods().ModifyStatus(ctx, "default", "web", running("10.244.0.5", true)))
	must(c.Pods().ModifyStatus(ctx, "team", "api", running("10.244.0.9", true)))
	must(c.Pods().ModifyStatus(ctx, "default", "old", running("10.244.0.7", true)))
	must(c.Pods().ModifyStatus(ctx, "default", "crash", func(p *skiffv1.Pod) error {
		p.Status.Phase = "Running"
		p.Status.PodIp = "10.244.0.6"
		p.Status.HostIp = "10.0.0.1"
		p.Status.ContainerStatuses = []*skiffv1.ContainerStatus{{
			Name: "app", Image: "busybox:1.36", RestartCount: 4,
			State: &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 1m20s restarting failed container"}},
			LastState: &skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{
				ExitCode: 1, Reason: "Error", StartedAt: ago(12*time.Minute + 30*time.Second), FinishedAt: ago(12*time.Minute + 30*time.Second)}},
		}}
		return nil
	}))
	must(c.Pods().ModifyStatus(ctx, "default", "done", func(p *skiffv1.Pod) error {
		p.Status.Phase = "Succeeded"
		p.Status.ContainerStatuses = []*skiffv1.ContainerStatus{{
			Name: "job", Image: "busybox:1.36",
			State: &skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}},
		}}
		return nil
	}))
	// A graceful deletion that its node has not confirmed: Terminating.
	if _, gone, err := c.Pods().Delete(ctx, "default", "old", client.DeleteOptions{}); err != nil || gone {
		t.Fatalf("graceful delete of old: gone=%v err=%v", gone, err)
	}

	must(c.Services().Create(ctx, &skiffv1.Service{Metadata: meta("default", "web", nil), Spec: &skiffv1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []*skiffv1.ServicePort{{Name: "http", Port: 80, TargetPort: "8080"}},
	}}))
	// As the endpoints controller keeps them (no controller runs here).
	podRef := func(name string) *skiffv1.ObjectReference {
		return &skiffv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name}
	}
	must(c.Endpoints().Create(ctx, &skiffv1.Endpoints{Metadata: meta("default", "web", map[string]string{"kubernetes.io/service-name": "web"}),
		Slices: []*skiffv1.EndpointSlice{{
			Ports: []*skiffv1.EndpointPort{{Name: "http", Port: 8080}},
			Endpoints: []*skiffv1.ServiceEndpoint{
				{Addresses: []string{"10.244.0.5"}, NodeName: "node1", TargetRef: podRef("web"), Conditions: &skiffv1.EndpointConditions{Ready: true, Serving: true}},
				{Addresses: []string{"10.244.0.8"}, NodeName: "node1", TargetRef: podRef("web-2"), Conditions: &skiffv1.EndpointConditions{}},
			},
		}},
	}))
	// Four ready pods behind a named port that resolves differently in one.
	many := &skiffv1.Endpoints{Metadata: meta("default", "many", nil)}
	for i, port := range []int32{8080, 8081} {
		s := &skiffv1.EndpointSlice{Ports: []*skiffv1.EndpointPort{{Name: "http", Port: port}}}
		for j := 0; j < 3-2*i; j++ {
			s.Endpoints = append(s.Endpoints, &skiffv1.ServiceEndpoint{
				Addresses: []string{fmt.Sprintf("10.244.%d.%d", i, 10+j)}, Conditions: &skiffv1.EndpointConditions{Ready: true, Serving: true},
			})
		}
		many.Slices = append(many.Slices, s)
	}
	many.Slices[0].Endpoints = append(many.Slices[0].Endpoints, &skiffv1.ServiceEndpoint{
		Addresses: []string{"10.244.0.20"}, Conditions: &skiffv1.EndpointConditions{Serving: true, Terminating: true},
	})
	must(c.Endpoints().Create(ctx, many))
	must(c.Services().Create(ctx, &skiffv1.Service{Metadata: meta("default", "db", nil), Spec: &skiffv1.ServiceSpec{
		Ports: []*skiffv1.ServicePort{{Name: "pg", Port: 5432}, {Name: "stats", Port: 5433, Protocol: "UDP"}},
	}}))

	must(c.Volumes().Create(ctx, &skiffv1.Volume{Metadata: meta("default", "data", nil), Spec: &skiffv1.VolumeSpec{
		AccessMode: "ReadWriteOnce", Capacity: "1Gi", Local: &skiffv1.LocalVolumeSource{NodeName: "node1"},
	}}))
	must(c.Volumes().ModifyStatus(ctx, "default", "data", func(v *skiffv1.Volume) error {
		v.Status = &skiffv1.VolumeStatus{Phase: "Bound", UsedBy: []string{"web"}}
		return nil
	}))
	must(c.Volumes().Create(ctx, &skiffv1.Volume{Metadata: meta("default", "shared", nil), Spec: &skiffv1.VolumeSpec{
		AccessMode: "ReadWriteMany", Capacity: "10Gi", Nfs: &skiffv1.NFSVolumeSource{Server: "10.0.0.9", Path: "/exports/shared"},
	}}))
	must(c.Volumes().ModifyStatus(ctx, "default", "shared", func(v *skiffv1.Volume) error {
		v.Status = &skiffv1.VolumeStatus{Phase: "Available"}
		return nil
	}))
	manual := "manual"
	must(c.Volumes().Create(ctx, &skiffv1.Volume{Metadata: meta("default", "logs", nil), Spec: &skiffv1.VolumeSpec{
		AccessMode: "ReadWriteOnce", Capacity: "3Gi", StorageClassName: &manual, VolumeName: "archive",
	}}))
	must(c.Volumes().ModifyStatus(ctx, "default", "logs", func(v *skiffv1.Volume) error {
		v.Status = &skiffv1.VolumeStatus{Phase: "Bound", Capacity: "10Gi", AccessMode: "ReadWriteOnce"}
		return nil
	}))
	must(c.PersistentVolumes().Create(ctx, &skiffv1.PersistentVolume{Metadata: meta("", "archive", nil), Spec: &skiffv1.PersistentVolumeSpec{
		Capacity: map[string]string{"storage": "10Gi"}, AccessModes: []string{"ReadWriteOnce"}, StorageClassName: "manual",
		HostPath: &skiffv1.HostPathSource{Path: "/srv/archive"},
		ClaimRef: &skiffv1.ObjectReference{Namespace: "default", Name: "logs"},
	}}))
	must(c.PersistentVolumes().ModifyStatus(ctx, "", "archive", func(v *skiffv1.PersistentVolume) error {
		v.Status = &skiffv1.PersistentVolumeStatus{Phase: "Bound"}
		return nil
	}))
	must(c.PersistentVolumes().Create(ctx, &skiffv1.PersistentVolume{Metadata: meta("", "disk-1", nil), Spec: &skiffv1.PersistentVolumeSpec{
		Capacity: map[string]string{"storage": "100Gi"}, AccessModes: []string{"ReadWriteOnce", "ReadWriteMany"},
		PersistentVolumeReclaimPolicy: "Delete", Local: &skiffv1.LocalPersistentVolumeSource{Path: "/mnt/disks/1"},
		NodeAffinity: &skiffv1.VolumeNodeAffinity{Required: &skiffv1.NodeSelector{NodeSelectorTerms: []*skiffv1.NodeSelectorTerm{{
			MatchExpressions: []*skiffv1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{"node1"}}},
		}}}},
	}}))
	must(c.PersistentVolumes().ModifyStatus(ctx, "", "disk-1", func(v *skiffv1.PersistentVolume) error {
		v.Status = &skiffv1.PersistentVolumeStatus{Phase: "Available"}
		return nil
	}))

	must(c.ReplicaSets().Create(ctx, &skiffv1.ReplicaSet{Metadata: meta("default", "web", nil), Spec: &skiffv1.ReplicaSetSpec{
		Replicas: i32(3),
		Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: &skiffv1.PodTemplateSpec{
			Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "app", Image: "registry.local/web:1",
				Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m"}}}}},
		},
	}}))
	must(c.ReplicaSets().ModifyStatus(ctx, "default", "web", func(rs *skiffv1.ReplicaSet) error {
		rs.Status = &skiffv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 1}
		return nil
	}))

	must(c.Autoscalers().Create(ctx, &skiffv1.Autoscaler{Metadata: meta("default", "web", nil), Spec: &skiffv1.AutoscalerSpec{
		Target: "web", MinReplicas: i32(2), MaxReplicas: 10, TargetCpuUtilizationPercent: i32(60),
	}}))
	must(c.Autoscalers().ModifyStatus(ctx, "default", "web", func(a *skiffv1.Autoscaler) error {
		a.Status = &skiffv1.AutoscalerStatus{CurrentReplicas: 3, DesiredReplicas: 3, CurrentCpuUtilizationPercent: i32(45), LastScaleTime: ago(30*time.Minute + 30*time.Second)}
		return nil
	}))

	event := func(name, kind, obj, typ, reason, msg, source string, count int32, first, last time.Duration) {
		must(c.Events().Create(ctx, &skiffv1.Event{
			Metadata:       meta("default", name, nil),
			InvolvedObject: &skiffv1.ObjectReference{Kind: kind, Namespace: "default", Name: obj},
			Type:           typ, Reason: reason, Message: msg, Source: source, Count: count,
			FirstTimestamp: ago(first), LastTimestamp: ago(last),
		}))
	}
	event("web.1", "Pod", "web", "Normal", "Scheduled", "Successfully assigned default/web to node1", "scheduler", 1, 46*time.Minute+30*time.Second, 46*time.Minute+30*time.Second)
	event("web.2", "Pod", "web", "Normal", "Started", "Started container app", "agent/node1", 1, 45*time.Minute+30*time.Second, 45*time.Minute+30*time.Second)
	event("crash.1", "Pod", "crash", "Warning", "BackOff", "Back-off restarting failed container app", "agent/node1", 5, 40*time.Minute+30*time.Second, 12*time.Minute+30*time.Second)
	event("web.3", "ReplicaSet", "web", "Normal", "SuccessfulCreate", "Created pod: web", "replicaset-controller", 1, 47*time.Minute+30*time.Second, 47*time.Minute+30*time.Second)

	r.now = time.Now().Add(50 * time.Hour).UTC()
}
