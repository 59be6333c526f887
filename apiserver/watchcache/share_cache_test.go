package watchcache_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func setPod(name string) *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"},
			OwnerReferences: []*skiffv1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Uid: "uid-web", Controller: true}}},
		Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "busybox",
			Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "10m"}}}}},
	}
}

// The pods of one template, read from etcd when the cache fills and from
// its watch after, are kept with one container and one owner reference
// among them, and read back as etcd has them.
func TestCachedPodsShareTheirTemplatesParts(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	pod := skiffv1.Kind_KIND_POD
	if _, err := st.Create(ctx, setPod("before"), nil, 0); err != nil {
		t.Fatal(err)
	}
	c, _, _ := startCache(t, watchcache.Config{Source: st})
	if _, err := c.ListPage(ctx, pod, "", storage.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := st.Create(ctx, setPod(fmt.Sprint("after", i)), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.ListPage(ctx, pod, "", storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := st.ListPage(ctx, pod, "", storage.ListOptions{Revision: got.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 4 || len(want.Items) != 4 {
		t.Fatalf("listed %d pods from the cache and %d from etcd, want 4", len(got.Items), len(want.Items))
	}
	first := got.Items[0].(*skiffv1.Pod)
	for i, o := range got.Items {
		p := o.(*skiffv1.Pod)
		if !proto.Equal(p, want.Items[i]) {
			t.Fatalf("pod %d: cache has %v, etcd %v", i, p, want.Items[i])
		}
		if p.Spec.Containers[0] != first.Spec.Containers[0] || p.Metadata.OwnerReferences[0] != first.Metadata.OwnerReferences[0] {
			t.Errorf("pod %s holds a container or owner reference of its own", p.Metadata.Name)
		}
	}
}
