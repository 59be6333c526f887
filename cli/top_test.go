package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestTopScaleAutoscale(t *testing.T) {
	usage := apiserver.NewUsageService(time.Minute)
	srv := apitest.Start(t, func(cfg *apiserver.Config) {
		cfg.RegisterServices = func(g *grpc.Server) { usage.Register(g) }
	})
	r := &runner{t: t, srv: srv, addr: srv.Addr, now: time.Now()}
	ctx := context.Background()
	alloc := map[string]string{"cpu": "2", "memory": "4Gi"}
	if _, err := srv.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}, Spec: &skiffv1.NodeSpec{},
		Status: &skiffv1.NodeStatus{Allocatable: alloc, Capacity: alloc}}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n2"}, Spec: &skiffv1.NodeSpec{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := usage.Report(ctx, &skiffv1.UsageReport{Node: "n1",
		NodeUsage: &skiffv1.ResourceUsage{CpuCores: 0.5, MemoryWorkingSetBytes: 1 << 30},
		Pods: []*skiffv1.PodUsage{
			{Namespace: "default", Name: "web-1", Usage: &skiffv1.ResourceUsage{CpuCores: 0.012, MemoryWorkingSetBytes: 34 << 20}},
			{Namespace: "team", Name: "db-1", Usage: &skiffv1.ResourceUsage{CpuCores: 0.25, MemoryWorkingSetBytes: 100 << 20}},
		}}); err != nil {
		t.Fatal(err)
	}

	res := r.run("top", "pods")
	if res.e != nil || !strings.Contains(res.out, "CPU(cores)") || !regexpMatch(`web-1\s+12m\s+34Mi`, res.out) || strings.Contains(res.out, "db-1") {
		t.Fatalf("top pods:\n%s%s", res.out, res.err)
	}
	res = r.run("top", "pods", "-A")
	if res.e != nil || !regexpMatch(`team\s+db-1\s+250m\s+100Mi`, res.out) {
		t.Fatalf("top pods -A:\n%s%s", res.out, res.err)
	}
	res = r.run("top", "nodes")
	if res.e != nil || !regexpMatch(`n1\s+500m\s+25%\s+1024Mi\s+25%`, res.out) || !regexpMatch(`n2\s+<unknown>`, res.out) {
		t.Fatalf("top nodes:\n%s%s", res.out, res.err)
	}

	rs := &skiffv1.ReplicaSet{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &skiffv1.ReplicaSetSpec{Replicas: proto.Int32(1),
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}}}},
	}
	if _, err := srv.Client.ReplicaSets().Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if res = r.run("scale", "rs", "web", "--replicas", "4"); res.e != nil || !strings.Contains(res.out, "replicaset/web scaled") {
		t.Fatalf("scale: %s%s", res.out, res.err)
	}
	if got, _ := srv.Client.ReplicaSets().Get(ctx, "default", "web"); got.GetSpec().GetReplicas() != 4 {
		t.Fatalf("replicas = %d after scale, want 4", got.GetSpec().GetReplicas())
	}
	if res = r.run("scale", "pod", "web", "--replicas", "4"); res.e == nil {
		t.Fatal("scaling a pod must fail")
	}
	if res = r.run("autoscale", "rs", "web", "--min", "2", "--max", "6", "--cpu-percent", "60"); res.e != nil || !strings.Contains(res.out, "autoscaler/web autoscaled") {
		t.Fatalf("autoscale: %s%s", res.out, res.err)
	}
	a, err := srv.Client.Autoscalers().Get(ctx, "default", "web")
	if err != nil || a.GetSpec().GetTarget() != "web" || a.GetSpec().GetMinReplicas() != 2 || a.GetSpec().GetMaxReplicas() != 6 || a.GetSpec().GetTargetCpuUtilizationPercent() != 60 {
		t.Fatalf("autoscaler: %v, %v", a, err)
	}
	if res = r.run("autoscale", "rs", "missing", "--max", "3"); res.e == nil || !strings.Contains(res.err, "not found") {
		t.Fatalf("autoscale of a missing set: %s%s", res.out, res.err)
	}
	if res = r.run("autoscale", "rs", "web", "--min", "5", "--max", "3"); res.e == nil {
		t.Fatal("--min above --max must fail")
	}
	if res = r.run("scale", "rs", "web", "--replicas", "2"); !strings.Contains(res.err, "autoscaler/web manages") {
		t.Fatalf("scale of an autoscaled set should say so: %s", res.err)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
