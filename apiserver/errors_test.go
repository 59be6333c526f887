package apiserver

import (
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A server whose etcd member has lost its leader (its network cut) ends
// watches and fails calls with Unavailable, the code clients retry (on
// another server), not Internal.
func TestToStatusEtcdUnavailable(t *testing.T) {
	r := ref{info: skiffv1.KindInfo{Name: "ConfigMap", Namespaced: true}, namespace: "default", name: "x"}
	for _, err := range []error{
		// What a watch cancelled by etcd for want of a leader ends with.
		fmt.Errorf("storage: watch: %w", rpctypes.Error(status.Error(codes.FailedPrecondition, "etcdserver: no leader"))),
		fmt.Errorf("storage: put: %w", rpctypes.ErrTimeoutDueToLeaderFail),
	} {
		if got := status.Code(toStatus(err, r)); got != codes.Unavailable {
			t.Errorf("toStatus(%v) = %v, want Unavailable", err, got)
		}
	}
	if got := status.Code(toStatus(errors.New("disk on fire"), r)); got != codes.Internal {
		t.Errorf("an unknown error is %v, want Internal", got)
	}
}

// A list or a watch names the kind's collection, not an object called "".
func TestRefNamesTheCollection(t *testing.T) {
	cm, _ := skiffv1.Info(skiffv1.Kind_KIND_CONFIG_MAP)
	err := toStatus(rpctypes.ErrTimeoutDueToLeaderFail, ref{info: cm, namespace: "web"})
	if msg := status.Convert(err).Message(); msg != `configmaps in namespace "web": `+rpctypes.ErrTimeoutDueToLeaderFail.Error()+" (retry, here or on another server)" {
		t.Errorf("watch error: %q", msg)
	}
	if got := (ref{info: cm, namespace: "web", name: "site"}).String(); got != `configmap "site" in namespace "web"` {
		t.Errorf("object ref: %q", got)
	}
}
