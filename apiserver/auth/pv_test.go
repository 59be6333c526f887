package auth

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A node reads a PersistentVolume only when a pod bound to it uses a claim
// bound to that volume, both sides naming each other.
func TestNodeReadsPersistentVolumeOfItsPodsClaim(t *testing.T) {
	claims := map[string]*skiffv1.Volume{
		"default/data":  {Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "data", Uid: "c1"}, Spec: &skiffv1.VolumeSpec{VolumeName: "pv-a"}},
		"default/other": {Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "other", Uid: "c2"}, Spec: &skiffv1.VolumeSpec{VolumeName: "pv-a"}},
	}
	pvs := map[string]*skiffv1.PersistentVolume{
		"pv-a":    {Metadata: &skiffv1.ObjectMeta{Name: "pv-a"}, Spec: &skiffv1.PersistentVolumeSpec{ClaimRef: &skiffv1.ObjectReference{Namespace: "default", Name: "data", Uid: "c1"}}},
		"pv-free": {Metadata: &skiffv1.ObjectMeta{Name: "pv-free"}, Spec: &skiffv1.PersistentVolumeSpec{}},
		// Claims "other", which names pv-a instead: not a binding.
		"pv-b": {Metadata: &skiffv1.ObjectMeta{Name: "pv-b"}, Spec: &skiffv1.PersistentVolumeSpec{ClaimRef: &skiffv1.ObjectReference{Namespace: "default", Name: "other", Uid: "c2"}}},
	}
	usesClaim := func(name string) *skiffv1.Pod {
		p := pod("default", "p-"+name, "n1")
		p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "v", Volume: &skiffv1.VolumeClaimSource{Name: name}}}
		return p
	}
	onN1 := []*skiffv1.Pod{usesClaim("data"), usesClaim("other")}
	a := &Authorizer{
		Volumes: func(_ context.Context, ns, name string) (*skiffv1.Volume, error) {
			if v, ok := claims[ns+"/"+name]; ok {
				return v, nil
			}
			return nil, status.Error(codes.NotFound, "no")
		},
		PersistentVolumes: func(_ context.Context, name string) (*skiffv1.PersistentVolume, error) {
			if pv, ok := pvs[name]; ok {
				return pv, nil
			}
			return nil, status.Error(codes.NotFound, "no")
		},
		NodePods: func(_ context.Context, node, _ string) ([]*skiffv1.Pod, error) {
			if node == "n1" {
				return onN1, nil
			}
			return nil, nil
		},
	}
	get := func(id pki.Identity, name string) codes.Code {
		req := &skiffv1.GetRequest{Kind: skiffv1.Kind_KIND_PERSISTENT_VOLUME, Name: name}
		return status.Code(a.Authorize(context.Background(), id, skiffv1.Objects_Get_FullMethodName, req))
	}
	for _, tc := range []struct {
		node, pv string
		want     codes.Code
	}{
		{"n1", "pv-a", codes.OK},
		{"n2", "pv-a", codes.PermissionDenied},
		{"n1", "pv-free", codes.PermissionDenied},
		{"n1", "pv-b", codes.PermissionDenied},
		{"n1", "pv-missing", codes.NotFound},
	} {
		if got := get(pki.NodeIdentity(tc.node), tc.pv); got != tc.want {
			t.Errorf("node %s gets %s: %v, want %v", tc.node, tc.pv, got, tc.want)
		}
	}
	list := &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_PERSISTENT_VOLUME}
	if err := a.Authorize(context.Background(), pki.NodeIdentity("n1"), skiffv1.Objects_List_FullMethodName, list); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a node lists PersistentVolumes: %v", err)
	}
}
