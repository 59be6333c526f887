package storage

import (
	"testing"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// encode writes an object without its revision and leaves the object
// alone, even for a moment: readers may share it (the watch cache's
// objects are), so a change and its undo would race with them.
func TestEncodeLeavesTheObjectAlone(t *testing.T) {
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "default", ResourceVersion: "7", Labels: map[string]string{"a": "b"}},
		Spec:     &skiffv1.PodSpec{NodeName: "n1", Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}},
	}
	want := proto.Clone(pod).(*skiffv1.Pod)
	want.Metadata.ResourceVersion = ""
	done := make(chan string)
	go func() {
		defer close(done)
		for range 2000 {
			if rv := pod.GetMetadata().GetResourceVersion(); rv != "7" {
				done <- rv
				return
			}
		}
	}()
	var data []byte
	for range 2000 {
		var err error
		if data, err = encode(pod); err != nil {
			t.Fatal(err)
		}
	}
	if rv, seen := <-done; seen {
		t.Fatalf("a reader saw resourceVersion %q while encode ran", rv)
	}
	got := &skiffv1.Pod{}
	if err := proto.Unmarshal(data, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("stored %v, want %v", got, want)
	}
	if pod.GetMetadata().GetResourceVersion() != "7" {
		t.Errorf("the object's resourceVersion is %q after encode", pod.GetMetadata().GetResourceVersion())
	}
}
