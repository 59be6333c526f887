package apiserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pod(name string) *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
			Name: "main", Image: "busybox:1",
			Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m", "memory": "64Mi"}},
		}}},
	}
}

func wantCode(t *testing.T, err error, code codes.Code, contains string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v (%v), want code %v", status.Code(err), err, code)
	}
	if contains != "" && !strings.Contains(status.Convert(err).Message(), contains) {
		t.Fatalf("message %q does not contain %q", status.Convert(err).Message(), contains)
	}
}

func TestCreateGetListDefaults(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	p, err := s.Client.Pods().Create(ctx, pod("web"))
	if err != nil {
		t.Fatal(err)
	}
	m := p.GetMetadata()
	if m.Namespace != "default" || m.Uid == "" || m.ResourceVersion == "" || m.Generation != 1 || m.CreationTimestamp == nil {
		t.Fatalf("system fields not set: %+v", m)
	}
	if p.Spec.RestartPolicy != "Always" || p.Spec.GetTerminationGracePeriodSeconds() != 30 || p.Status.GetPhase() != "Pending" {
		t.Fatalf("defaults not applied: %v / %v", p.Spec, p.Status)
	}
	if p.Spec.Containers[0].ImagePullPolicy != "IfNotPresent" {
		t.Fatalf("pull policy = %q", p.Spec.Containers[0].ImagePullPolicy)
	}
	got, err := s.Client.Pods().Get(ctx, "default", "web")
	if err != nil || got.Metadata.Uid != m.Uid {
		t.Fatalf("get: %v %v", got, err)
	}
	_, err = s.Client.Pods().Create(ctx, pod("web"))
	wantCode(t, err, codes.AlreadyExists, `pod "web" already exists in namespace "default"`)
	_, err = s.Client.Pods().Get(ctx, "default", "nope")
	wantCode(t, err, codes.NotFound, `pod "nope" not found in namespace "default"`)

	other := pod("db")
	other.Metadata.Labels = map[string]string{"app": "db"}
	if _, err := s.Client.Pods().Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	items, rv, err := s.Client.Pods().List(ctx, client.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(items) != 1 || items[0].Metadata.Name != "web" || rv == "" {
		t.Fatalf("list by label: %v %v %v", items, rv, err)
	}
	items, _, err = s.Client.Pods().List(ctx, client.ListOptions{FieldSelector: "metadata.name=db"})
	if err != nil || len(items) != 1 || items[0].Metadata.Name != "db" {
		t.Fatalf("list by field: %v %v", items, err)
	}
	_, _, err = s.Client.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.bogus=1"})
	wantCode(t, err, codes.InvalidArgument, "spec.nodeName")
	_, _, err = s.Client.Pods().List(ctx, client.ListOptions{LabelSelector: "a in b"})
	wantCode(t, err, codes.InvalidArgument, "label selector")
}

func TestNamespaceRules(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	p := pod("web")
	p.Metadata.Namespace = "missing"
	_, err := s.Client.Pods().Create(ctx, p)
	wantCode(t, err, codes.NotFound, `namespace "missing" not found`)
	for _, ns := range []string{"default", "skiff-system", "kube-system"} {
		if _, err := s.Client.Namespaces().Get(ctx, "", ns); err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
		_, _, err := s.Client.Namespaces().Delete(ctx, "", ns, client.DeleteOptions{})
		wantCode(t, err, codes.FailedPrecondition, "cannot be deleted")
	}
}

func TestUpdateCompareAndSwap(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	svc := &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "web"},
		Spec:     &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*skiffv1.ServicePort{{Port: 80}}},
	}
	created, err := s.Client.Services().Create(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.Ports[0].TargetPort != "80" || created.Spec.Ports[0].Protocol != "TCP" {
		t.Fatalf("service defaults: %v", created.Spec.Ports[0])
	}
	a := created
	a.Spec.Ports[0].Port = 8080
	a.Spec.Ports[0].TargetPort = ""
	updated, err := s.Client.Services().Update(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Metadata.Generation != 2 || updated.Metadata.ResourceVersion == created.Metadata.ResourceVersion {
		t.Fatalf("generation %d rv %s", updated.Metadata.Generation, updated.Metadata.ResourceVersion)
	}
	// The stale copy loses.
	stale := created
	stale.Metadata.ResourceVersion = "1"
	_, err = s.Client.Services().Update(ctx, stale)
	wantCode(t, err, codes.Aborted, "changed since it was read")
	// A label change alone keeps the generation.
	updated.Metadata.Labels = map[string]string{"tier": "front"}
	again, err := s.Client.Services().Update(ctx, updated)
	if err != nil || again.Metadata.Generation != 2 {
		t.Fatalf("label update: gen %d err %v", again.GetMetadata().GetGeneration(), err)
	}
	// Writing the same object again changes nothing.
	same, err := s.Client.Services().Update(ctx, again)
	if err != nil || same.Metadata.ResourceVersion != again.Metadata.ResourceVersion {
		t.Fatalf("no-op update wrote: %v %v", same.GetMetadata().GetResourceVersion(), err)
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	p := pod("web")
	p.Spec.Containers = append(p.Spec.Containers, &skiffv1.Container{
		Name: "side", Image: "busybox",
		Resources: &skiffv1.ResourceRequirements{Limits: map[string]string{"memory": "12XB"}},
	})
	_, err := s.Client.Pods().Create(ctx, p)
	wantCode(t, err, codes.InvalidArgument, `spec.containers[1].resources.limits.memory: "12XB" is not a quantity`)
	// Nothing was stored.
	_, err = s.Client.Pods().Get(ctx, "default", "web")
	wantCode(t, err, codes.NotFound, "")
}

func TestBind(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	if _, err := s.Client.Pods().Create(ctx, pod("web")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Client.Bind(ctx, "default", "web", "n1", "", "")
	wantCode(t, err, codes.NotFound, `node "n1" not found`)
	node, err := s.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if node.Spec.GetPodCidr() != "10.88.0.0/24" {
		t.Fatalf("pod CIDR = %q", node.Spec.GetPodCidr())
	}
	n2, err := s.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n2"}})
	if err != nil || n2.Spec.GetPodCidr() != "10.88.1.0/24" {
		t.Fatalf("second pod CIDR = %q, %v", n2.GetSpec().GetPodCidr(), err)
	}
	p, err := s.Client.Bind(ctx, "default", "web", "n1", "", "")
	if err != nil || p.Spec.NodeName != "n1" {
		t.Fatalf("bind: %v %v", p, err)
	}
	if c := p.Status.Conditions; len(c) != 1 || c[0].Type != "PodScheduled" || c[0].Status != "True" {
		t.Fatalf("conditions: %v", c)
	}
	_, err = s.Client.Bind(ctx, "default", "web", "n2", "", "")
	wantCode(t, err, codes.FailedPrecondition, `already bound to node "n1"`)
	// An update that leaves nodeName out keeps the binding.
	p.Spec.NodeName = ""
	p.Spec.Containers[0].Image = "busybox:2"
	up, err := s.Client.Pods().Update(ctx, p)
	if err != nil || up.Spec.NodeName != "n1" {
		t.Fatalf("update after bind: %v %v", up.GetSpec().GetNodeName(), err)
	}
}
