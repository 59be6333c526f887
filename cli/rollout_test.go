package cli

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// startControllers runs the controller manager and stands in for the
// agents: every pod is made Running and Ready soon after it appears.
func startControllers(t *testing.T, r *runner) {
	t.Helper()
	m, err := controller.New(controller.Config{Client: r.srv.Client})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.Run(ctx) }()
	go func() {
		defer wg.Done()
		c := r.srv.Client
		for ctx.Err() == nil {
			pods, _, _ := c.Pods().List(ctx, client.ListOptions{})
			for _, p := range pods {
				if p.GetStatus().GetPhase() == "Running" || p.GetMetadata().GetDeletionTimestamp() != nil {
					continue
				}
				c.Pods().ModifyStatus(ctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
					cur.Status = &skiffv1.PodStatus{Phase: "Running", Conditions: []*skiffv1.Condition{{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.Now()}}}
					return nil
				})
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1"}]}
`

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q lacks %q", what, got, w)
		}
	}
}

func TestDeploymentCommands(t *testing.T) {
	r := newRunner(t)
	startControllers(t, r)
	r.ok("apply", "-f", writeFile(t, "web.yaml", webDeployment))
	mustContain(t, "rollout status", r.ok("rollout", "status", "deploy/web", "--timeout", "60s"), `deployment "web" successfully rolled out`)

	r.now = time.Now()
	get := r.ok("get", "deploy")
	mustContain(t, "get deploy", get, "NAME   READY   UP-TO-DATE   AVAILABLE   AGE", "web    3/3     3            3")
	mustContain(t, "get deploy -o wide", r.ok("get", "deploy", "-o", "wide"), "CONTAINERS   IMAGES   SELECTOR", "web:1", "app=web")
	// Printed back as Kubernetes has it: a count maxSurge is a number.
	mustContain(t, "get -o yaml", r.ok("get", "deploy", "web", "-o", "yaml"), "apiVersion: apps/v1", "maxSurge: 1\n", "lastUpdateTime")

	mustContain(t, "set image", r.ok("set", "image", "deploy/web", "web=web:2"), "deployment/web image updated")
	mustContain(t, "rollout status", r.ok("rollout", "status", "deploy/web", "--timeout", "60s"), `deployment "web" successfully rolled out`)
	mustContain(t, "history", r.ok("rollout", "history", "deploy/web"), "REVISION   CHANGE-CAUSE\n1          <none>\n2          <none>")
	mustContain(t, "history --revision", r.ok("rollout", "history", "deploy/web", "--revision", "1"), "Image:  web:1")
	desc := r.ok("describe", "deploy", "web")
	mustContain(t, "describe", desc, "Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable",
		"StrategyType:           RollingUpdate", "RollingUpdateStrategy:  0 max unavailable, 1 max surge",
		"NewReplicaSet:", "Scaled up replica set web-", "Scaled down replica set web-", "to 0", "NewReplicaSetAvailable")

	mustContain(t, "undo", r.ok("rollout", "undo", "deploy/web"), "deployment/web rolled back")
	r.ok("rollout", "status", "deploy/web", "--timeout", "60s")
	mustContain(t, "after undo", r.ok("get", "deploy", "-o", "wide"), "web:1")
	// Revision 1's template is now revision 3.
	mustContain(t, "history after undo", r.ok("rollout", "history", "deploy/web"), "2          <none>\n3          <none>")
	mustContain(t, "undo --to-revision", r.ok("rollout", "undo", "deploy/web", "--to-revision", "3"), "skipped rollback")

	mustContain(t, "pause", r.ok("rollout", "pause", "deploy/web"), "deployment/web paused")
	if res := r.run("rollout", "restart", "deploy/web"); res.e == nil || !strings.Contains(res.err, "rollout resume") {
		t.Errorf("restart of a paused deployment: %q", res.err)
	}
	mustContain(t, "resume", r.ok("rollout", "resume", "deployment", "web"), "deployment/web resumed")
	mustContain(t, "restart", r.ok("rollout", "restart", "deploy/web"), "deployment/web restarted")
	mustContain(t, "restartedAt", r.ok("get", "deploy", "web", "-o", "yaml"), "kubectl.kubernetes.io/restartedAt")
	r.ok("rollout", "status", "deploy/web", "--timeout", "60s")

	mustContain(t, "scale", r.ok("scale", "deploy", "web", "--replicas", "1"), "deployment/web scaled")
	mustContain(t, "status after scale", r.ok("rollout", "status", "deploy/web", "--timeout", "60s"), "successfully rolled out")

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "status", "rs/web"}, "only deployments (deploy), daemon sets (ds) and stateful sets (sts) do"},
		{[]string{"set", "image", "deploy/web", "nope=x:1"}, `unable to find container named "nope"`},
		{[]string{"set", "image", "deploy/web", "web"}, "give CONTAINER=IMAGE"},
		{[]string{"rollout", "undo", "deploy/web", "--to-revision", "99"}, "unable to find the specified revision 99"},
	} {
		if res := r.run(bad.args...); res.e == nil || !strings.Contains(res.err, bad.want) {
			t.Errorf("skiff %v: stderr %q, want %q", bad.args, res.err, bad.want)
		}
	}
}

// rollout restart and set image change a daemon set's or stateful set's
// pod template too (their controllers roll it out); other kinds are refused.
func TestRestartAndSetImageOfDaemonAndStatefulSets(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	const tmpl = "  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: app, image: busybox:1}]}\n"
	r.ok("apply", "-f", writeFile(t, "w.yaml", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n"+tmpl+
		"---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n"+tmpl))
	if got := r.ok("rollout", "restart", "ds/agent"); got != "daemonset/agent restarted\n" {
		t.Errorf("restart ds: %q", got)
	}
	if got := r.ok("set", "image", "sts/db", "app=busybox:2"); got != "statefulset/db image updated\n" {
		t.Errorf("set image sts: %q", got)
	}
	r.ok("rollout", "restart", "statefulset", "db")
	ds, err := r.srv.Client.DaemonSets().Get(ctx, "default", "agent")
	if err != nil || ds.GetSpec().GetTemplate().GetMetadata().GetAnnotations()["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("daemon set template after restart: %v, %v", ds.GetSpec().GetTemplate().GetMetadata(), err)
	}
	sts, err := r.srv.Client.StatefulSets().Get(ctx, "default", "db")
	if err != nil || sts.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage() != "busybox:2" ||
		sts.GetSpec().GetTemplate().GetMetadata().GetAnnotations()["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("stateful set template after set image and restart: %v, %v", sts.GetSpec().GetTemplate(), err)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "restart", "cm/x"}, "a ConfigMap has no rollout"},
		{[]string{"set", "image", "ds/agent", "nope=x:1"}, `unable to find container named "nope"`},
		{[]string{"rollout", "restart", "ds/missing"}, "not found"},
		{[]string{"rollout", "restart", "web"}, "give the workload as deploy/NAME, ds/NAME or sts/NAME"},
	} {
		if res := r.run(bad.args...); res.e == nil || !strings.Contains(res.err, bad.want) {
			t.Errorf("skiff %v: stderr %q, want %q", bad.args, res.err, bad.want)
		}
	}
}
