package scheduler

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Builders for test objects; options mutate the object being built.

func testNode(name, cpu, mem string, opts ...func(*skiffv1.Node)) *skiffv1.Node {
	n := &skiffv1.Node{
		Metadata: &skiffv1.ObjectMeta{Name: name, Uid: "uid-" + name, Labels: map[string]string{}},
		Spec:     &skiffv1.NodeSpec{},
		Status: &skiffv1.NodeStatus{
			Allocatable: map[string]string{"cpu": cpu, "memory": mem, "pods": "110"},
			Conditions:  []*skiffv1.Condition{{Type: "Ready", Status: "True"}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withTaint(key, value, effect string) func(*skiffv1.Node) {
	return func(n *skiffv1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, &skiffv1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func withLabel(k, v string) func(*skiffv1.Node) {
	return func(n *skiffv1.Node) { n.Metadata.Labels[k] = v }
}

func cordoned(n *skiffv1.Node) { n.Spec.Unschedulable = true }

func notReady(n *skiffv1.Node) { n.Status.Conditions[0].Status = "False" }

func maxPods(p string) func(*skiffv1.Node) {
	return func(n *skiffv1.Node) { n.Status.Allocatable["pods"] = p }
}

func testPod(name, cpu, mem string, opts ...func(*skiffv1.Pod)) *skiffv1.Pod {
	req := map[string]string{}
	if cpu != "" {
		req["cpu"] = cpu
	}
	if mem != "" {
		req["memory"] = mem
	}
	p := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{
			Name: name, Namespace: "default", Uid: "uid-" + name,
			CreationTimestamp: timestamppb.New(time.Unix(1_700_000_000, 0)),
		},
		Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
			Name: "c", Image: "busybox", Resources: &skiffv1.ResourceRequirements{Requests: req},
		}}},
		Status: &skiffv1.PodStatus{Phase: "Pending"},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func onNode(node string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) { p.Spec.NodeName = node }
}

func tolerating(key, op, value, effect string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, &skiffv1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

func selecting(k, v string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		p.Spec.NodeSelector[k] = v
	}
}

func hostPort(port int32, proto string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		c := p.Spec.Containers[0]
		c.Ports = append(c.Ports, &skiffv1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto})
	}
}

func usingVolume(name string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, &skiffv1.PodVolume{
			Name: name, Volume: &skiffv1.VolumeClaimSource{Name: name},
		})
	}
}

func ownedBy(uid string) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) {
		p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences,
			&skiffv1.OwnerReference{Kind: "ReplicaSet", Name: "rs-" + uid, Uid: uid, Controller: true})
	}
}

func priority(v int32) func(*skiffv1.Pod) { return func(p *skiffv1.Pod) { p.Spec.Priority = v } }

func createdAt(sec int64) func(*skiffv1.Pod) {
	return func(p *skiffv1.Pod) { p.Metadata.CreationTimestamp = timestamppb.New(time.Unix(sec, 0)) }
}

// nodeWith makes a NodeInfo holding the given pods.
func nodeWith(n *skiffv1.Node, pods ...*skiffv1.Pod) *NodeInfo {
	ni := NewNodeInfo(n)
	for _, p := range pods {
		ni.AddPod(NewPodInfo(p))
	}
	return ni
}

// fakeCluster answers pre-filters from maps.
type fakeCluster struct {
	ScanPods
	volumes map[string]*skiffv1.Volume
	inUse   map[string][]string
	pvs     map[string]*skiffv1.PersistentVolume
}

func (f fakeCluster) PersistentVolume(name string) (*skiffv1.PersistentVolume, bool) {
	pv, ok := f.pvs[name]
	return pv, ok
}

func (f fakeCluster) Volume(key string) (*skiffv1.Volume, bool) {
	v, ok := f.volumes[key]
	return v, ok
}

func (f fakeCluster) VolumeNodes(key string) []string { return f.inUse[key] }

func testVolume(name, mode, localNode string) *skiffv1.Volume {
	v := &skiffv1.Volume{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &skiffv1.VolumeSpec{AccessMode: mode},
	}
	if localNode != "-" {
		v.Spec.Local = &skiffv1.LocalVolumeSource{NodeName: localNode}
	} else {
		v.Spec.HostPath = &skiffv1.HostPathSource{Path: "/data"}
	}
	return v
}

func podN(prefix string, i int, cpu, mem string, opts ...func(*skiffv1.Pod)) *skiffv1.Pod {
	return testPod(fmt.Sprintf("%s-%d", prefix, i), cpu, mem, opts...)
}
