package watchcache

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// templatePod is a pod as a replica set's controller makes it, decoded
// afresh (as the cache gets each from etcd): equal parts, none shared.
func templatePod(t testing.TB, name, set, node, image string) *skiffv1.Pod {
	t.Helper()
	p := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": set},
			OwnerReferences: []*skiffv1.OwnerReference{{Kind: "ReplicaSet", Name: set, Uid: "uid-" + set, Controller: true}}},
		Spec: &skiffv1.PodSpec{NodeName: node, RestartPolicy: "Always", Containers: []*skiffv1.Container{{
			Name: "c", Image: image,
			Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "10m", "memory": "16Mi"}},
		}}},
	}
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	out := &skiffv1.Pod{}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestSharerSharesEqualPartsOnly(t *testing.T) {
	s := newSharer(shareLimit)
	a := templatePod(t, "rs-1-a", "rs-1", "node-1", "busybox")
	b := templatePod(t, "rs-1-b", "rs-1", "node-1", "busybox")
	other := templatePod(t, "rs-2-a", "rs-2", "node-2", "nginx")
	want := []*skiffv1.Pod{proto.Clone(a).(*skiffv1.Pod), proto.Clone(b).(*skiffv1.Pod), proto.Clone(other).(*skiffv1.Pod)}
	for _, p := range []*skiffv1.Pod{a, b, other} {
		s.share(p)
	}
	for i, p := range []*skiffv1.Pod{a, b, other} {
		if !proto.Equal(p, want[i]) {
			t.Fatalf("pod %d changed by sharing:\n got %v\nwant %v", i, p, want[i])
		}
	}
	if a.Spec.Containers[0] != b.Spec.Containers[0] {
		t.Error("two pods of one template hold two containers")
	}
	if !sameMap(a.Metadata.Labels, b.Metadata.Labels) {
		t.Error("two pods of one set hold two labels maps")
	}
	if a.Metadata.OwnerReferences[0] != b.Metadata.OwnerReferences[0] {
		t.Error("two pods of one set hold two owner references")
	}
	if unsafe.StringData(a.Spec.NodeName) != unsafe.StringData(b.Spec.NodeName) || unsafe.StringData(a.Metadata.Namespace) != unsafe.StringData(other.Metadata.Namespace) {
		t.Error("equal strings not shared")
	}
	// Different containers stay apart; what they hold in common is one.
	if a.Spec.Containers[0] == other.Spec.Containers[0] || sameMap(a.Metadata.Labels, other.Metadata.Labels) {
		t.Error("different parts shared")
	}
	if !sameMap(a.Spec.Containers[0].Resources.Requests, other.Spec.Containers[0].Resources.Requests) {
		t.Error("equal requests of different containers not shared")
	}
}

func TestSharerTableIsBounded(t *testing.T) {
	const limit = 16
	s := newSharer(limit)
	kept := s.str("kept")
	for i := range 10 * limit {
		s.str(fmt.Sprint("once-", i))
		if i%limit == 0 {
			s.str("kept") // used in every generation: stays
		}
	}
	if n := len(s.cur) + len(s.old); n > 2*limit {
		t.Fatalf("table holds %d entries, want at most %d", n, 2*limit)
	}
	if again := s.str("kept"); unsafe.StringData(again) != unsafe.StringData(kept) {
		t.Error("a string in use in every generation was dropped")
	}
}

// BenchmarkSharePod is the cost of sharing a decoded pod whose parts were
// seen before: what each pod event costs the cache's goroutine.
func BenchmarkSharePod(b *testing.B) {
	t := &testing.T{}
	s := newSharer(shareLimit)
	pods := make([]*skiffv1.Pod, 1000)
	for i := range pods {
		pods[i] = templatePod(t, fmt.Sprint("rs-1-", i), "rs-1", fmt.Sprint("node-", i%50), "busybox")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.share(pods[i%len(pods)])
	}
}
