package slimlist

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fullPod sets fields a table reads and fields it does not, with
// conditions enough for a status of over 16 KiB (a three-byte length).
func fullPod() *skiffv1.Pod {
	always := "Always"
	ts := timestamppb.New(timestamppb.Now().AsTime().Truncate(1e9))
	p := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "web-1", Namespace: "shop", Uid: "u-1", ResourceVersion: "42", Generation: 3,
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": strings.Repeat("x", 300)},
			CreationTimestamp: ts, DeletionTimestamp: ts, Finalizers: []string{"f"},
			OwnerReferences: []*skiffv1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "rs-1"}}},
		Spec: &skiffv1.PodSpec{NodeName: "n1", RestartPolicy: "Always",
			Containers: []*skiffv1.Container{{Name: "app", Image: "web:1", Command: []string{"/bin/web"},
				Env:       []*skiffv1.EnvVar{{Name: "A", Value: "b"}},
				Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "10m"}}}},
			InitContainers: []*skiffv1.Container{{Name: "side", Image: "side:1", RestartPolicy: &always}},
			Volumes:        []*skiffv1.PodVolume{{Name: "data"}}},
		Status: &skiffv1.PodStatus{Phase: "Running", Reason: "R", Message: "m", PodIp: "10.88.0.2", HostIp: "10.0.0.1", StartTime: ts,
			ContainerStatuses: []*skiffv1.ContainerStatus{{Name: "app", Ready: true, RestartCount: 2, Started: true, Image: "web:1", ImageId: "sha", ContainerId: "c",
				State:     &skiffv1.ContainerState{Running: &skiffv1.ContainerStateRunning{StartedAt: ts}},
				LastState: &skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}},
			InitContainerStatuses: []*skiffv1.ContainerStatus{
				{Name: "side", State: &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "Crash", Message: "m"}}},
				{Name: "x", State: &skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: 3, Signal: 9, Reason: "Error", Message: "m", StartedAt: ts}}}},
		},
	}
	for i := range 200 {
		p.Status.Conditions = append(p.Status.Conditions, &skiffv1.Condition{Type: fmt.Sprintf("%0100d", i), Status: "True", Message: "m", LastTransitionTime: ts})
	}
	return p
}

// slimPod is fullPod with only what Pods keeps.
func slimPod(withLabels bool) *skiffv1.Pod {
	f := fullPod()
	p := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "web-1", Namespace: "shop",
			CreationTimestamp: f.Metadata.CreationTimestamp, DeletionTimestamp: f.Metadata.DeletionTimestamp},
		Spec: &skiffv1.PodSpec{NodeName: "n1", Containers: []*skiffv1.Container{{Name: "app"}},
			InitContainers: []*skiffv1.Container{{Name: "side", RestartPolicy: f.Spec.InitContainers[0].RestartPolicy}}},
		Status: &skiffv1.PodStatus{Phase: "Running", Reason: "R", PodIp: "10.88.0.2",
			ContainerStatuses: []*skiffv1.ContainerStatus{{Ready: true, RestartCount: 2, Started: true,
				State: &skiffv1.ContainerState{Running: &skiffv1.ContainerStateRunning{}}}},
			InitContainerStatuses: []*skiffv1.ContainerStatus{
				{State: &skiffv1.ContainerState{Waiting: &skiffv1.ContainerStateWaiting{Reason: "Crash"}}},
				{State: &skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: 3, Signal: 9, Reason: "Error"}}}},
		},
	}
	for _, c := range f.Status.Conditions {
		p.Status.Conditions = append(p.Status.Conditions, &skiffv1.Condition{Type: c.Type, Status: c.Status})
	}
	if withLabels {
		p.Metadata.Labels = f.Metadata.Labels
	}
	return p
}

// A page's pods keep what a pod table and the pager read, nothing else;
// its other items and its own fields are as sent.
func TestDecodeListSlimsPods(t *testing.T) {
	svc := &skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"a": "b"}},
		Spec: &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}}}
	sent := &skiffv1.ListResponse{Items: []*skiffv1.Object{skiffv1.Wrap(fullPod()), skiffv1.Wrap(svc), skiffv1.Wrap(fullPod())},
		ResourceVersion: "42", Continue: "next", RemainingItemCount: 7}
	b, err := proto.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	for _, withLabels := range []bool{false, true} {
		var got skiffv1.ListResponse
		if err := DecodeList(b, &got, withLabels); err != nil {
			t.Fatal(err)
		}
		want := &skiffv1.ListResponse{Items: []*skiffv1.Object{skiffv1.Wrap(slimPod(withLabels)), skiffv1.Wrap(svc), skiffv1.Wrap(slimPod(withLabels))},
			ResourceVersion: "42", Continue: "next", RemainingItemCount: 7}
		if !proto.Equal(&got, want) {
			t.Errorf("with labels %v:\n got %v\nwant %v", withLabels, &got, want)
		}
	}
}

// Bytes that are no ListResponse are an error, never a panic.
func TestDecodeListRefusesBrokenBytes(t *testing.T) {
	b, err := proto.Marshal(&skiffv1.ListResponse{Items: []*skiffv1.Object{skiffv1.Wrap(fullPod())}})
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 2, 3, 50, len(b) / 2, len(b) - 1} {
		if err := DecodeList(b[:cut], &skiffv1.ListResponse{}, false); err == nil {
			t.Errorf("a page cut at %d of %d bytes decoded", cut, len(b))
		}
	}
}

// What slimming saves on a page of 500 pods of replica sets, as stored
// after defaulting and scheduling.
func BenchmarkDecodePage(b *testing.B) {
	page := &skiffv1.ListResponse{}
	grace := int64(30)
	ts := timestamppb.Now()
	for i := range 500 {
		p := &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("web-%d-x7k2p", i), Namespace: "load", Uid: "0b6e7c1e-3f4d-4b8a-9c55-1c2d3e4f5a6b",
				ResourceVersion: "123456", Generation: 1, Labels: map[string]string{"app": "web-7"}, CreationTimestamp: ts,
				OwnerReferences: []*skiffv1.OwnerReference{{Kind: "ReplicaSet", Name: "web-7", Uid: "5d0a4c2e-1b3f-4e6d-8a9b-0c1d2e3f4a5b", Controller: true}}},
			Spec: &skiffv1.PodSpec{NodeName: "hollow-0042", RestartPolicy: "Always", DnsPolicy: "ClusterFirst", TerminationGracePeriodSeconds: &grace,
				Containers: []*skiffv1.Container{{Name: "app", Image: "registry.local/app:1", ImagePullPolicy: "IfNotPresent",
					TerminationMessagePath: "/dev/termination-log",
					Resources:              &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "10m", "memory": "16Mi"}}}}},
			Status: &skiffv1.PodStatus{Phase: "Pending", Conditions: []*skiffv1.Condition{{Type: "PodScheduled", Status: "True", LastTransitionTime: ts}}},
		}
		page.Items = append(page.Items, skiffv1.Wrap(p))
	}
	data, err := proto.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			if err := proto.Unmarshal(data, &skiffv1.ListResponse{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("slim", func(b *testing.B) {
		for b.Loop() {
			if err := DecodeList(data, &skiffv1.ListResponse{}, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
