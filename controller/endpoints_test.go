package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// createEndpointPod makes a pod of app with a container port named http at
// httpPort, bound to node.
func createEndpointPod(ctx context.Context, t *testing.T, c *client.Client, name, app string, httpPort int32, node string) {
	t.Helper()
	spec := podSpec("10m")
	spec.Containers[0].Ports = []*skiffv1.ContainerPort{{Name: "http", ContainerPort: httpPort}}
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}}, Spec: spec}
	if _, err := c.Pods().Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Bind(ctx, "default", name, node, "", ""); err != nil {
		t.Fatal(err)
	}
}

// runPod gives a pod an IP, Running and the Ready condition, as its agent
// would.
func runPod(ctx context.Context, t *testing.T, c *client.Client, name, ip string, ready bool) {
	t.Helper()
	_, err := c.Pods().ModifyStatus(ctx, "default", name, func(cur *skiffv1.Pod) error {
		st := "False"
		if ready {
			st = "True"
		}
		cur.Status = &skiffv1.PodStatus{Phase: "Running", PodIp: ip, Conditions: []*skiffv1.Condition{
			{Type: "Ready", Status: st, LastTransitionTime: timestamppb.Now()},
		}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// summary prints an Endpoints object as one line per slice:
// "http=8080/TCP,metrics=9090/TCP: 10.0.0.1(a,n1,ready) 10.0.0.2(b,n1,serving,terminating)".
func summary(ep *skiffv1.Endpoints) string {
	var lines []string
	for _, s := range ep.GetSlices() {
		var ports, eps []string
		for _, p := range s.GetPorts() {
			ports = append(ports, fmt.Sprintf("%s=%d/%s", p.GetName(), p.GetPort(), p.GetProtocol()))
		}
		for _, e := range s.GetEndpoints() {
			st := []string{e.GetTargetRef().GetName(), e.GetNodeName()}
			c := e.GetConditions()
			for _, f := range []struct {
				on   bool
				name string
			}{{c.GetReady(), "ready"}, {c.GetServing(), "serving"}, {c.GetTerminating(), "terminating"}} {
				if f.on {
					st = append(st, f.name)
				}
			}
			eps = append(eps, fmt.Sprintf("%s(%s)", strings.Join(e.GetAddresses(), ","), strings.Join(st, ",")))
		}
		lines = append(lines, strings.Join(ports, ",")+": "+strings.Join(eps, " "))
	}
	return strings.Join(lines, "\n")
}

func waitEndpoints(ctx context.Context, t *testing.T, c *client.Client, name, want string) *skiffv1.Endpoints {
	t.Helper()
	var got *skiffv1.Endpoints
	waitFor(t, fmt.Sprintf("endpoints %s to be\n%s", name, want), func() (bool, error) {
		ep, err := c.Endpoints().Get(ctx, "default", name)
		if err != nil {
			return false, err
		}
		got = ep
		if s := summary(ep); s != want {
			return false, fmt.Errorf("have\n%s", s)
		}
		return true, nil
	})
	return got
}

func TestEndpointsFollowPodsAndNamedPorts(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2")
	startManager(t, srv)

	svc, err := c.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*skiffv1.ServicePort{
			{Name: "http", Port: 80, TargetPort: "http"},
			{Name: "metrics", Port: 9090},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// No pods yet: an empty object, so that "no endpoints" can be told
	// from "not kept".
	ep := waitEndpoints(ctx, t, c, "web", "")
	ref := ep.GetMetadata().GetOwnerReferences()
	if len(ref) != 1 || ref[0].GetUid() != svc.GetMetadata().GetUid() || !ref[0].GetController() || ref[0].GetKind() != "Service" {
		t.Errorf("owner references %v: want the service as controller", ref)
	}
	if l := ep.GetMetadata().GetLabels()["kubernetes.io/service-name"]; l != "web" {
		t.Errorf("label kubernetes.io/service-name = %q, want web", l)
	}

	// a and b name their http port differently: two slices. c is another
	// app's; d has no IP yet.
	createEndpointPod(ctx, t, c, "a", "web", 8080, "n1")
	createEndpointPod(ctx, t, c, "b", "web", 8081, "n2")
	createEndpointPod(ctx, t, c, "c", "other", 8080, "n1")
	createEndpointPod(ctx, t, c, "d", "web", 8080, "n1")
	runPod(ctx, t, c, "a", "10.88.0.5", true)
	runPod(ctx, t, c, "b", "10.88.1.7", false)
	runPod(ctx, t, c, "c", "10.88.0.9", true)
	waitEndpoints(ctx, t, c, "web", ""+
		"http=8080/TCP,metrics=9090/TCP: 10.88.0.5(a,n1,ready,serving)\n"+
		"http=8081/TCP,metrics=9090/TCP: 10.88.1.7(b,n2)")

	// b becomes ready, d gets its IP (same ports as a), c joins by label.
	runPod(ctx, t, c, "b", "10.88.1.7", true)
	runPod(ctx, t, c, "d", "10.88.0.6", true)
	if _, err := c.Pods().Modify(ctx, "default", "c", func(p *skiffv1.Pod) error {
		p.Metadata.Labels["app"] = "web"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(ctx, t, c, "web", ""+
		"http=8080/TCP,metrics=9090/TCP: 10.88.0.5(a,n1,ready,serving) 10.88.0.6(d,n1,ready,serving) 10.88.0.9(c,n1,ready,serving)\n"+
		"http=8081/TCP,metrics=9090/TCP: 10.88.1.7(b,n2,ready,serving)")

	// A graceful deletion: a stays listed as terminating (still serving)
	// until it is gone, but is no longer ready.
	if _, deleted, err := c.Pods().Delete(ctx, "default", "a", client.DeleteOptions{}); err != nil || deleted {
		t.Fatalf("graceful delete: deleted=%v err=%v", deleted, err)
	}
	waitEndpoints(ctx, t, c, "web", ""+
		"http=8080/TCP,metrics=9090/TCP: 10.88.0.5(a,n1,serving,terminating) 10.88.0.6(d,n1,ready,serving) 10.88.0.9(c,n1,ready,serving)\n"+
		"http=8081/TCP,metrics=9090/TCP: 10.88.1.7(b,n2,ready,serving)")
	if _, _, err := c.Pods().Delete(ctx, "default", "a", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(ctx, t, c, "web", ""+
		"http=8080/TCP,metrics=9090/TCP: 10.88.0.6(d,n1,ready,serving) 10.88.0.9(c,n1,ready,serving)\n"+
		"http=8081/TCP,metrics=9090/TCP: 10.88.1.7(b,n2,ready,serving)")

	// Someone else's edit is put back.
	if _, err := c.Endpoints().Modify(ctx, "default", "web", func(ep *skiffv1.Endpoints) error {
		ep.Slices = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(ctx, t, c, "web", ""+
		"http=8080/TCP,metrics=9090/TCP: 10.88.0.6(d,n1,ready,serving) 10.88.0.9(c,n1,ready,serving)\n"+
		"http=8081/TCP,metrics=9090/TCP: 10.88.1.7(b,n2,ready,serving)")

	// The service goes, and its endpoints with it.
	if _, _, err := c.Services().Delete(ctx, "default", "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "endpoints web deleted", func() (bool, error) {
		_, err := c.Endpoints().Get(ctx, "default", "web")
		return client.IsNotFound(err), nil
	})
}

// The controller writes only when what it would write differs: a service
// change that moves no endpoint, and pod changes it does not show, send no
// update (the server would drop a write that changes nothing, so the
// requests are counted, not the stored revisions).
func TestEndpointsWrittenOnlyOnChange(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1")
	startManager(t, srv)
	updates := func() float64 {
		v, _ := gaugeValue(t, srv.Registry, "skiff_apiserver_request_duration_seconds",
			map[string]string{"method": skiffv1.Objects_Update_FullMethodName})
		return v
	}

	if _, err := c.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*skiffv1.ServicePort{{Port: 80}}},
	}); err != nil {
		t.Fatal(err)
	}
	createEndpointPod(ctx, t, c, "a", "web", 8080, "n1")
	runPod(ctx, t, c, "a", "10.88.0.5", true)
	waitEndpoints(ctx, t, c, "web", "=80/TCP: 10.88.0.5(a,n1,ready,serving)")
	before := updates()

	// Unshown changes (two updates of ours): the service's labels, the
	// pod's annotations.
	if _, err := c.Services().Modify(ctx, "default", "web", func(s *skiffv1.Service) error {
		s.Metadata.Labels = map[string]string{"tier": "front"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Modify(ctx, "default", "a", func(p *skiffv1.Pod) error {
		p.Metadata.Annotations = map[string]string{"note": "x"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Then one that shows (no update of ours: create, bind, status): a
	// second pod, which the controller writes once. The queue is worked in
	// order, so by the time it shows the unshown changes were synced.
	createEndpointPod(ctx, t, c, "b", "web", 8080, "n1")
	runPod(ctx, t, c, "b", "10.88.0.6", true)
	waitEndpoints(ctx, t, c, "web", "=80/TCP: 10.88.0.5(a,n1,ready,serving) 10.88.0.6(b,n1,ready,serving)")
	if got := updates() - before; got != 3 {
		t.Errorf("%v updates, want 3: our two and the controller's one", got)
	}
}

// A service without a selector keeps the Endpoints its user writes, as in
// Kubernetes.
func TestEndpointsOfServiceWithoutSelectorAreLeftAlone(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startManager(t, srv)

	if _, err := c.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec:     &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 5432}}},
	}); err != nil {
		t.Fatal(err)
	}
	manual := &skiffv1.Endpoints{
		Metadata: &skiffv1.ObjectMeta{Name: "db", Namespace: "default"},
		Slices: []*skiffv1.EndpointSlice{{
			Ports:     []*skiffv1.EndpointPort{{Port: 5432}},
			Endpoints: []*skiffv1.ServiceEndpoint{{Addresses: []string{"192.0.2.10"}, Conditions: &skiffv1.EndpointConditions{Ready: true, Serving: true}}},
		}},
	}
	if _, err := c.Endpoints().Create(ctx, manual); err != nil {
		t.Fatal(err)
	}
	// A selector service created after it is synced by the same workers:
	// once its endpoints exist, db's have had their chance to be touched.
	if _, err := c.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(ctx, t, c, "web", "")
	got, err := c.Endpoints().Get(ctx, "default", "db")
	if err != nil {
		t.Fatal(err)
	}
	if s := summary(got); s != "=5432/TCP: 192.0.2.10(,,ready,serving)" {
		t.Errorf("manual endpoints became\n%s", s)
	}
}

// A node that stops heartbeating goes Unknown: its pods stay listed but
// not ready, as Kubernetes marks them, and come back when it recovers.
func TestEndpointsOfUnreachableNodeAreNotReady(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	nodes := startFakeNodes(t, c, "n1", "n2")
	startManager(t, srv, func(cfg *controller.Config) { cfg.NodeGracePeriod = 2 * time.Second })

	if _, err := c.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*skiffv1.ServicePort{{Port: 80}}},
	}); err != nil {
		t.Fatal(err)
	}
	createEndpointPod(ctx, t, c, "a", "web", 8080, "n1")
	runPod(ctx, t, c, "a", "10.88.0.5", true)
	createEndpointPod(ctx, t, c, "b", "web", 8080, "n2")
	runPod(ctx, t, c, "b", "10.88.1.5", true)
	waitEndpoints(ctx, t, c, "web", "=80/TCP: 10.88.0.5(a,n1,ready,serving) 10.88.1.5(b,n2,ready,serving)")
	nodes.set("n2", false)
	waitEndpoints(ctx, t, c, "web", "=80/TCP: 10.88.0.5(a,n1,ready,serving) 10.88.1.5(b,n2)")
	// The node lifecycle controller marks b Ready=False; back, n2's agent
	// posts b's real status again (once the controller sees n2 beating:
	// before, it would mark b again).
	waitFor(t, "b marked not ready", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "b")
		return skiffv1.FindCondition(p.GetStatus().GetConditions(), skiffv1.PodReady).GetReason() == skiffv1.ReasonNodeNotReady, err
	})
	nodes.set("n2", true)
	waitFor(t, "n2 untainted", func() (bool, error) {
		n, err := c.Nodes().Get(ctx, "", "n2")
		return err == nil && !hasTaint(n, controller.TaintUnreachable), err
	})
	runPod(ctx, t, c, "b", "10.88.1.5", true)
	waitEndpoints(ctx, t, c, "web", "=80/TCP: 10.88.0.5(a,n1,ready,serving) 10.88.1.5(b,n2,ready,serving)")
}
