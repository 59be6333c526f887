package apiserver_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A dry-run create answers the object as it would be stored, defaults and
// all, after the real create's checks, and stores nothing.
func TestDryRunCreate(t *testing.T) {
	ctx := ctxT(t)
	srv := apitest.Start(t)
	api := srv.Client.API()
	cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	out, err := api.Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(cm), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := out.Unwrap().GetMetadata(); m.GetUid() == "" || m.GetCreationTimestamp() == nil || m.GetResourceVersion() != "" {
		t.Errorf("dry-run create answered metadata %v: want a uid and a creation time, no resourceVersion", m)
	}
	if _, err := srv.Client.ConfigMaps().Get(ctx, "default", "cfg"); status.Code(err) != codes.NotFound {
		t.Fatalf("a dry-run create stored the object: %v", err)
	}

	bad := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: &skiffv1.PodSpec{}}
	if _, err := api.Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(bad), DryRun: true}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "spec.containers") {
		t.Errorf("a dry-run create of an invalid pod: %v", err)
	}
	if _, err := srv.Client.ConfigMaps().Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(cm), DryRun: true}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("a dry-run create of an existing object: %v", err)
	}
	gen := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{GenerateName: "gen-", Namespace: "default"}}
	out, err = api.Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(gen), DryRun: true})
	if err != nil || !strings.HasPrefix(out.Unwrap().GetMetadata().GetName(), "gen-") {
		t.Fatalf("a dry-run create with generateName: %v, %v", out, err)
	}
	if list, _, err := srv.Client.ConfigMaps().List(ctx, client.ListOptions{Namespace: "default"}); err != nil || len(list) != 1 {
		t.Errorf("after dry runs: %d config maps, %v; want the one created", len(list), err)
	}
}

// A dry-run service create shows the ClusterIP and node port it would get,
// holds neither, and refuses a requested one another service holds.
func TestDryRunService(t *testing.T) {
	ctx := ctxT(t)
	srv := apitest.Start(t, smallServiceCIDR)
	api := srv.Client.API()
	out, err := api.Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(service("web", skiffv1.ServiceTypeNodePort)), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	dry := out.Unwrap().(*skiffv1.Service)
	if dry.GetSpec().GetClusterIp() == "" || dry.GetSpec().GetPorts()[0].GetNodePort() == 0 {
		t.Errorf("dry-run service spec %v: want a ClusterIP and a node port", dry.GetSpec())
	}
	real, err := srv.Client.Services().Create(ctx, service("web", skiffv1.ServiceTypeNodePort))
	if err != nil {
		t.Fatal(err)
	}
	clash := service("other", "")
	clash.Spec.ClusterIp = real.Spec.ClusterIp
	if _, err := api.Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(clash), DryRun: true}); status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), "spec.clusterIP") {
		t.Errorf("a dry-run create asking for a held ClusterIP: %v", err)
	}

	// An update to LoadBalancer keeps the ClusterIP and node port, stores nothing.
	next := proto.Clone(real).(*skiffv1.Service)
	next.Spec.Type = skiffv1.ServiceTypeLoadBalancer
	next.Spec.Ports = append(next.Spec.Ports, &skiffv1.ServicePort{Name: "tls", Port: 443})
	next.Spec.Ports[0].Name = "http"
	out, err = api.Update(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(next), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Unwrap().(*skiffv1.Service)
	if got.Spec.ClusterIp != real.Spec.ClusterIp || got.Spec.Ports[0].NodePort != real.Spec.Ports[0].NodePort || got.Spec.Ports[1].NodePort == 0 {
		t.Errorf("dry-run update answered %v; want the ClusterIP and first node port kept and a second node port", got.Spec)
	}
	if got.GetMetadata().GetResourceVersion() != real.GetMetadata().GetResourceVersion() {
		t.Errorf("dry-run update answered resourceVersion %s, stored is %s", got.GetMetadata().GetResourceVersion(), real.GetMetadata().GetResourceVersion())
	}
	stored, err := srv.Client.Services().Get(ctx, "default", "web")
	if err != nil || !proto.Equal(stored, real) {
		t.Errorf("a dry-run update changed the stored service: %v, %v", stored.GetSpec(), err)
	}

	stale := proto.Clone(next).(*skiffv1.Service)
	stale.Metadata.ResourceVersion = "1"
	if _, err := api.Update(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(stale), DryRun: true}); status.Code(err) != codes.Aborted && status.Code(err) != codes.FailedPrecondition {
		t.Errorf("a dry-run update at a stale resourceVersion: %v", err)
	}
	immutable := proto.Clone(real).(*skiffv1.Service)
	immutable.Spec.ClusterIp, immutable.Spec.ClusterIps = "10.96.0.9", nil
	if _, err := api.Update(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(immutable), DryRun: true}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a dry-run update changing the ClusterIP: %v", err)
	}
	if _, err := api.UpdateStatus(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(real), DryRun: true}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "dryRun") {
		t.Errorf("UpdateStatus with dryRun: %v", err)
	}
}
