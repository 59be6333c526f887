package cli

import (
	"context"
	"fmt"
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

// newUsageRunner runs commands against a server with a usage service,
// which the test feeds as node agents would.
func newUsageRunner(t *testing.T) (*runner, *apiserver.UsageService) {
	usage := apiserver.NewUsageService(time.Minute)
	srv := apitest.Start(t, func(cfg *apiserver.Config) {
		cfg.RegisterServices = func(g *grpc.Server) { usage.Register(g) }
	})
	return &runner{t: t, srv: srv, addr: srv.Addr, now: time.Now()}, usage
}

func TestTopScaleAutoscale(t *testing.T) {
	r, usage := newUsageRunner(t)
	srv := r.srv
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

// top pods and nodes take a name, a label selector, --sort-by,
// --containers and --no-headers, as kubectl top does.
func TestTopSelectAndSort(t *testing.T) {
	r, usage := newUsageRunner(t)
	srv := r.srv
	ctx := context.Background()
	for _, n := range []string{"n1", "n2"} {
		if _, err := srv.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: n, Labels: map[string]string{"zone": n}}, Spec: &skiffv1.NodeSpec{}}); err != nil {
			t.Fatal(err)
		}
	}
	uids := map[string]string{}
	for name, app := range map[string]string{"web-1": "web", "db-1": "db"} {
		p, err := srv.Client.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}},
			Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "main", Image: "busybox"}}}})
		if err != nil {
			t.Fatal(err)
		}
		uids[name] = p.GetMetadata().GetUid()
	}
	use := func(cpu float64, mib uint64) *skiffv1.ResourceUsage {
		return &skiffv1.ResourceUsage{CpuCores: cpu, MemoryWorkingSetBytes: mib << 20}
	}
	if _, err := usage.Report(ctx, &skiffv1.UsageReport{Node: "n1", NodeUsage: use(0.1, 100), Pods: []*skiffv1.PodUsage{
		{Namespace: "default", Name: "web-1", Uid: uids["web-1"], Usage: use(0.3, 10), Containers: []*skiffv1.ContainerUsage{{Name: "main", Usage: use(0.2, 6)}, {Name: "sidecar", Usage: use(0.1, 4)}}},
		{Namespace: "default", Name: "db-1", Uid: uids["db-1"], Usage: use(0.05, 200)},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := usage.Report(ctx, &skiffv1.UsageReport{Node: "n2", NodeUsage: use(0.9, 50)}); err != nil {
		t.Fatal(err)
	}
	if got := r.ok("top", "pod", "web-1", "--containers"); !regexpMatch(`(?s)^POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\nweb-1\s+main\s+200m\s+6Mi\nweb-1\s+sidecar\s+100m\s+4Mi\n$`, got) {
		t.Errorf("top pod web-1 --containers:\n%s", got)
	}
	if got := r.ok("top", "pods", "-l", "app=web", "--no-headers"); !regexpMatch(`^web-1\s+300m\s+10Mi\n$`, got) {
		t.Errorf("top pods -l app=web --no-headers:\n%s", got)
	}
	if got := r.ok("top", "pods", "--sort-by=memory"); !regexpMatch(`(?s)NAME.*\ndb-1\s.*\nweb-1\s`, got) {
		t.Errorf("top pods --sort-by=memory:\n%s", got)
	}
	if got := r.ok("top", "pods", "--sort-by=cpu"); !regexpMatch(`(?s)NAME.*\nweb-1\s.*\ndb-1\s`, got) {
		t.Errorf("top pods --sort-by=cpu:\n%s", got)
	}
	if got := r.ok("top", "nodes", "--sort-by=cpu", "--no-headers"); !regexpMatch(`^n2\s+900m.*\nn1\s+100m`, got) {
		t.Errorf("top nodes --sort-by=cpu:\n%s", got)
	}
	if got := r.ok("top", "node", "-l", "zone=n1"); !strings.Contains(got, "n1") || strings.Contains(got, "n2") {
		t.Errorf("top node -l zone=n1:\n%s", got)
	}
	if got := r.ok("top", "node", "n2"); !strings.Contains(got, "n2") || strings.Contains(got, "n1") {
		t.Errorf("top node n2:\n%s", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"top", "pod", "nope"}, `pod "nope" has no usage readings in namespace default`},
		{[]string{"top", "pods", "--sort-by=disk"}, "--sort-by=disk: use cpu or memory"},
		{[]string{"top", "pod", "web-1", "-l", "app=web"}, "give a name or -l SELECTOR, not both"},
		{[]string{"top", "pod", "web-1", "-A"}, "with a name, use -n NAMESPACE instead"},
		{[]string{"top", "node", "n9"}, "not found"},
	} {
		if res := r.run(c.args...); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("%v: %+v, want %q", c.args, res, c.want)
		}
	}
}

// scale takes several objects, a selector or --all, and a
// --current-replicas precondition, as kubectl scale does.
func TestScaleSeveral(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		tier := "web"
		if n == "c" {
			tier = "db"
		}
		if _, err := r.srv.Client.Deployments().Create(ctx, &skiffv1.Deployment{
			Metadata: &skiffv1.ObjectMeta{Name: n, Namespace: "default", Labels: map[string]string{"tier": tier}},
			Spec: &skiffv1.DeploymentSpec{Replicas: proto.Int32(2), Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": n}},
				Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": n}},
					Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	replicas := func() string {
		var out []string
		for _, n := range []string{"a", "b", "c"} {
			d, err := r.srv.Client.Deployments().Get(ctx, "default", n)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(d.GetSpec().GetReplicas()))
		}
		return strings.Join(out, " ")
	}
	if got := r.ok("scale", "deploy/a", "deployment/b", "--replicas", "3"); got != "deployment/a scaled\ndeployment/b scaled\n" {
		t.Errorf("scale deploy/a deployment/b: %q", got)
	}
	if got := r.ok("scale", "deploy", "-l", "tier=db", "--replicas", "0"); got != "deployment/c scaled\n" || replicas() != "3 3 0" {
		t.Errorf("scale -l tier=db: %q, replicas %s", got, replicas())
	}
	res := r.run("scale", "deploy", "a", "b", "c", "--current-replicas", "3", "--replicas", "4")
	if res.e == nil || !strings.Contains(res.err, "deployment/c: expected replicas to be 3, was 0") || res.out != "deployment/a scaled\ndeployment/b scaled\n" || replicas() != "4 4 0" {
		t.Errorf("--current-replicas 3 over 3, 3, 0: %+v, replicas %s", res, replicas())
	}
	r.ok("scale", "deploy", "--all", "--replicas", "1")
	if replicas() != "1 1 1" {
		t.Errorf("scale --all: replicas %s", replicas())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scale", "deploy", "a", "-l", "x=y", "--replicas", "1"}, "give names, or -l SELECTOR or --all, not both"},
		{[]string{"scale", "deploy", "-l", "tier=none", "--replicas", "1"}, `no deployments match "tier=none"`},
		{[]string{"scale", "deploy/a", "pod/x", "--replicas", "1"}, "cannot scale a Pod"},
		{[]string{"scale", "deploy", "--replicas", "1"}, "give what to scale as KIND NAME"},
		{[]string{"scale", "deploy/zz", "--replicas", "1"}, "deployment/zz: "},
	} {
		if res := r.run(c.args...); res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("%v: %+v, want %q", c.args, res, c.want)
		}
	}
}
