package apiserver_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// nodeWorld is a secure server with two nodes, a pod bound to each (each
// using a Volume of its own), a pending pod, a local volume pinned to n1,
// and a client for n1's identity.
type nodeWorld struct {
	srv   *apitest.SecureServer
	admin *client.Client
	n1    *client.Client
	pods  map[string]*skiffv1.Pod
}

func newNodeWorld(t *testing.T, configure ...func(*apiserver.Config)) *nodeWorld {
	t.Helper()
	srv := apitest.StartSecure(t, configure...)
	w := &nodeWorld{srv: srv, admin: srv.Client, n1: srv.ClientAs(t, pki.NodeIdentity("n1")), pods: map[string]*skiffv1.Pod{}}
	ctx := ctxT(t)
	for _, n := range []string{"n1", "n2"} {
		if _, err := w.admin.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []*skiffv1.Volume{
		{Metadata: &skiffv1.ObjectMeta{Name: "data-1"}},
		{Metadata: &skiffv1.ObjectMeta{Name: "data-2"}},
		{Metadata: &skiffv1.ObjectMeta{Name: "local-n1"}, Spec: &skiffv1.VolumeSpec{Local: &skiffv1.LocalVolumeSource{NodeName: "n1"}}},
	} {
		if _, err := w.admin.Volumes().Create(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	for name, node := range map[string]string{"web-1": "n1", "web-2": "n2", "pending": ""} {
		p := pod(name)
		p.Spec.NodeName = node
		if node != "" {
			vol := "data-" + strings.TrimPrefix(node, "n")
			p.Spec.Volumes = []*skiffv1.PodVolume{{Name: "data", Volume: &skiffv1.VolumeClaimSource{Name: vol}}}
		}
		created, err := w.admin.Pods().Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		w.pods[name] = created
	}
	return w
}

// A node reads the pods bound to it, the volumes they use and nodes;
// nothing of other nodes' pods, nor the rest of the cluster.
func TestNodeReadsOnlyItsOwn(t *testing.T) {
	w := newNodeWorld(t)
	ctx, n1 := ctxT(t), w.n1

	if _, err := n1.Pods().Get(ctx, "default", "web-1"); err != nil {
		t.Fatalf("n1 reading its own pod: %v", err)
	}
	_, err := n1.Pods().Get(ctx, "default", "web-2")
	wantCode(t, err, codes.PermissionDenied, "node:n1 may not get pods/default/web-2: it is bound to node n2")
	_, err = n1.Pods().Get(ctx, "default", "pending")
	wantCode(t, err, codes.PermissionDenied, "not bound to any node")

	mine, _, err := n1.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil || len(mine) != 1 || mine[0].Metadata.Name != "web-1" {
		t.Fatalf("n1 listing its pods: %v %v", mine, err)
	}
	for _, sel := range []string{"", "spec.nodeName=n2", "spec.nodeName!=n1", "status.phase=Pending"} {
		_, _, err := n1.Pods().List(ctx, client.ListOptions{FieldSelector: sel})
		wantCode(t, err, codes.PermissionDenied, "spec.nodeName=<node>")
		wch, err := n1.Pods().Watch(ctx, client.ListOptions{FieldSelector: sel}, "")
		if err == nil {
			_, err = wch.Next()
		}
		wantCode(t, err, codes.PermissionDenied, "spec.nodeName=<node>")
	}

	if _, err := n1.Volumes().Get(ctx, "default", "data-1"); err != nil {
		t.Fatalf("n1 reading the volume its pod uses: %v", err)
	}
	if _, err := n1.Volumes().Get(ctx, "default", "local-n1"); err != nil {
		t.Fatalf("n1 reading a local volume that lives on it: %v", err)
	}
	_, err = n1.Volumes().Get(ctx, "default", "data-2")
	wantCode(t, err, codes.PermissionDenied, "no pod bound to node n1 uses it")
	_, err = n1.Volumes().Get(ctx, "default", "gone")
	wantCode(t, err, codes.NotFound, "")
	_, _, err = n1.Volumes().List(ctx, client.ListOptions{})
	wantCode(t, err, codes.PermissionDenied, "")

	if _, _, err := n1.Nodes().List(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("n1 listing nodes (routes to peers): %v", err)
	}
	// Services and Endpoints: the node's proxy follows them.
	if _, _, err := n1.Services().List(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("n1 listing services (its proxy): %v", err)
	}
	_, _, err = n1.ReplicaSets().List(ctx, client.ListOptions{})
	wantCode(t, err, codes.PermissionDenied, "")
	_, _, err = n1.Events().List(ctx, client.ListOptions{})
	wantCode(t, err, codes.PermissionDenied, "")
	_, _, err = n1.Namespaces().List(ctx, client.ListOptions{})
	wantCode(t, err, codes.PermissionDenied, "")
}

var eventSeq atomic.Int64

func nodeEvent(ns, kind, name, uid, source string) *skiffv1.Event {
	return &skiffv1.Event{
		Metadata:       &skiffv1.ObjectMeta{Name: fmt.Sprintf("%s.%d", name, eventSeq.Add(1)), Namespace: ns},
		InvolvedObject: &skiffv1.ObjectReference{Kind: kind, Namespace: ns, Name: name, Uid: uid},
		Type:           "Normal", Reason: "Test", Message: "m", Source: source, Count: 1,
		FirstTimestamp: timestamppb.Now(), LastTimestamp: timestamppb.Now(),
	}
}

// A node records events only about its Node and its pods, as its agent.
func TestNodeEventsAreAboutItsOwnObjects(t *testing.T) {
	w := newNodeWorld(t)
	ctx, n1 := ctxT(t), w.n1
	if _, err := w.admin.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "other"}}); err != nil {
		t.Fatal(err)
	}
	web1 := w.pods["web-1"].Metadata.Uid
	for _, ev := range []*skiffv1.Event{
		nodeEvent("default", "Pod", "web-1", web1, "agent/n1"),
		nodeEvent("default", "Pod", "web-1", "", "agent/n1"),
		nodeEvent("default", "Node", "n1", "", "agent/n1"),
	} {
		if _, err := n1.Events().Create(ctx, ev); err != nil {
			t.Fatalf("n1 recording %v: %v", ev.InvolvedObject, err)
		}
	}
	for _, tc := range []struct {
		ev   *skiffv1.Event
		want string
	}{
		{nodeEvent("default", "Pod", "web-2", "", "agent/n1"), "it is about pods/default/web-2: it is bound to node n2"},
		{nodeEvent("default", "Pod", "pending", "", "agent/n1"), "not bound to any node"},
		{nodeEvent("default", "Pod", "nosuch", "", "agent/n1"), "does not exist"},
		{nodeEvent("default", "Pod", "web-1", "0000-old", "agent/n1"), "an earlier pods/default/web-1"},
		{nodeEvent("default", "Node", "n2", "", "agent/n1"), "only about its own Node and its pods"},
		{nodeEvent("other", "Node", "n1", "", "agent/n1"), "namespace default"},
		{nodeEvent("default", "ReplicaSet", "web", "", "agent/n1"), "only about its own Node and its pods"},
		{nodeEvent("default", "Pod", "web-1", "", "scheduler"), `source "agent/n1"`},
	} {
		_, err := n1.Events().Create(ctx, tc.ev)
		wantCode(t, err, codes.PermissionDenied, tc.want)
	}
	// An event about a pod put in another namespace.
	ev := nodeEvent("other", "Pod", "web-1", "", "agent/n1")
	ev.InvolvedObject.Namespace = "default"
	_, err := n1.Events().Create(ctx, ev)
	wantCode(t, err, codes.PermissionDenied, "the pod's namespace")
}

// A node that spams events is slowed down: past its burst it is refused
// with ResourceExhausted, while other nodes are not.
func TestNodeEventsAreRateLimited(t *testing.T) {
	w := newNodeWorld(t)
	w.srv.Authorizer.EventRate, w.srv.Authorizer.EventBurst = 0.001, 5
	ctx := ctxT(t)
	refused := 0
	for range 20 {
		_, err := w.n1.Events().Create(ctx, nodeEvent("default", "Pod", "web-1", "", "agent/n1"))
		if err != nil {
			wantCode(t, err, codes.ResourceExhausted, "events a second")
			refused++
		}
	}
	if refused != 15 {
		t.Fatalf("%d of 20 events refused, want 15 past a burst of 5", refused)
	}
	n2 := w.srv.ClientAs(t, pki.NodeIdentity("n2"))
	if _, err := n2.Events().Create(ctx, nodeEvent("default", "Pod", "web-2", "", "agent/n2")); err != nil {
		t.Fatalf("n2 is limited by n1's spam: %v", err)
	}
}

// A node reports usage only for itself and the pods bound to it.
func TestNodeReportsUsageOnlyForItsPods(t *testing.T) {
	w := newNodeWorld(t)
	ctx := ctxT(t)
	usage := skiffv1.NewUsageClient(w.n1.Conn())
	reading := func(name string) *skiffv1.PodUsage {
		p := w.pods[name]
		return &skiffv1.PodUsage{Namespace: "default", Name: name, Uid: p.Metadata.Uid, Usage: &skiffv1.ResourceUsage{CpuCores: 9}}
	}
	if _, err := usage.Report(ctx, &skiffv1.UsageReport{Node: "n1", Pods: []*skiffv1.PodUsage{reading("web-1")}}); err != nil {
		t.Fatalf("n1 reporting its pod: %v", err)
	}
	_, err := usage.Report(ctx, &skiffv1.UsageReport{Node: "n2"})
	wantCode(t, err, codes.PermissionDenied, "a node may only report its own usage")
	_, err = usage.Report(ctx, &skiffv1.UsageReport{Node: "n1", Pods: []*skiffv1.PodUsage{reading("web-1"), reading("web-2")}})
	wantCode(t, err, codes.PermissionDenied, "it includes pods/default/web-2: it is bound to node n2")
	stale := reading("web-1")
	stale.Uid = "an-earlier-uid"
	_, err = usage.Report(ctx, &skiffv1.UsageReport{Node: "n1", Pods: []*skiffv1.PodUsage{stale}})
	wantCode(t, err, codes.PermissionDenied, "an earlier pods/default/web-1")
	_, err = usage.Report(ctx, &skiffv1.UsageReport{Node: "n1", Pods: []*skiffv1.PodUsage{{Namespace: "default", Name: "nosuch"}}})
	wantCode(t, err, codes.PermissionDenied, "does not exist")

	snap, err := skiffv1.NewUsageClient(w.admin.Conn()).Get(ctx, &skiffv1.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.Pods {
		if p.Name != "web-1" {
			t.Errorf("usage of %s accepted from n1", p.Name)
		}
	}
}

// Events are capped per namespace, whoever records them, and their message
// is cut, so they cannot fill etcd.
func TestEventsAreCappedPerNamespace(t *testing.T) {
	srv := apitest.Start(t, func(c *apiserver.Config) { c.EventsPerNamespace = 3 })
	ctx, c := ctxT(t), srv.Client
	if _, err := c.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "other"}}); err != nil {
		t.Fatal(err)
	}
	event := func(ns string) *skiffv1.Event { return nodeEvent(ns, "Pod", "p", "", "test") }
	for range 3 {
		if _, err := c.Events().Create(ctx, event("default")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Events().Create(ctx, event("default"))
	wantCode(t, err, codes.ResourceExhausted, "namespace default holds 3 events")
	if _, err := c.Events().Create(ctx, event("other")); err != nil {
		t.Fatalf("another namespace is capped by default's events: %v", err)
	}

	big := event("other")
	big.Message = strings.Repeat("é", 5000)
	got, err := c.Events().Create(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Message); n > 1024 || !strings.HasSuffix(got.Message, "…") {
		t.Errorf("a 10 KB message stored as %d bytes (%q…)", n, got.Message[:16])
	}
	huge := event("other")
	huge.Metadata.Annotations = map[string]string{"pad": strings.Repeat("x", 16<<10)}
	_, err = c.Events().Create(ctx, huge)
	wantCode(t, err, codes.InvalidArgument, "the limit is 8192")
}
