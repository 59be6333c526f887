package auth

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// pods is a stored-pod table for the node rules.
func pods(bound map[string]string) PodLookup {
	return func(_ context.Context, ns, name string) (*skiffv1.Pod, error) {
		node, ok := bound[ns+"/"+name]
		if !ok {
			return nil, status.Error(codes.NotFound, "no such pod")
		}
		return &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: ns, Name: name}, Spec: &skiffv1.PodSpec{NodeName: node}}, nil
	}
}

func obj(r skiffv1.Resource) *skiffv1.Object { return skiffv1.Wrap(r) }

func node(name string) *skiffv1.Node {
	return &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: name}}
}

func pod(ns, name, nodeName string) *skiffv1.Pod {
	return &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: ns, Name: name}, Spec: &skiffv1.PodSpec{NodeName: nodeName}}
}

func event(podName, source string) *skiffv1.Event {
	return &skiffv1.Event{
		Metadata:       &skiffv1.ObjectMeta{Namespace: "default", Name: "e"},
		InvolvedObject: &skiffv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: podName},
		Source:         source,
	}
}

func TestAuthorize(t *testing.T) {
	a := &Authorizer{Pods: pods(map[string]string{
		"default/web":   "n2",
		"default/mine":  "n1",
		"default/ready": "",
	}), Volumes: func(_ context.Context, ns, name string) (*skiffv1.Volume, error) {
		return &skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Namespace: ns, Name: name}, Spec: &skiffv1.VolumeSpec{Local: &skiffv1.LocalVolumeSource{NodeName: "n1"}}}, nil
	}, NodePods: func(context.Context, string, string) ([]*skiffv1.Pod, error) { return nil, nil }}
	n1 := pki.NodeIdentity("n1")
	admin := pki.Identity{Name: pki.Admin}
	sched := pki.Identity{Name: pki.Scheduler}
	ctrl := pki.Identity{Name: pki.Controller}
	boot := pki.Identity{Name: Bootstrap, Groups: []string{BootstrapGroup}}
	stranger := pki.Identity{Name: "someone"}
	viewer := pki.Identity{Name: pki.Viewer, Groups: []string{pki.DashboardGroup}}

	const (
		create       = skiffv1.Objects_Create_FullMethodName
		get          = skiffv1.Objects_Get_FullMethodName
		list         = skiffv1.Objects_List_FullMethodName
		watch        = skiffv1.Objects_Watch_FullMethodName
		update       = skiffv1.Objects_Update_FullMethodName
		updateStatus = skiffv1.Objects_UpdateStatus_FullMethodName
		del          = skiffv1.Objects_Delete_FullMethodName
		bind         = skiffv1.Objects_Bind_FullMethodName
		report       = skiffv1.Usage_Report_FullMethodName
		usageGet     = skiffv1.Usage_Get_FullMethodName
		logs         = skiffv1.PodIO_Logs_FullMethodName
	)
	podKind, nodeKind := skiffv1.Kind_KIND_POD, skiffv1.Kind_KIND_NODE

	for _, tc := range []struct {
		name   string
		id     pki.Identity
		method string
		req    any
		code   codes.Code
		msg    string // exact message, when set
	}{
		// Admin does anything, including methods nobody listed.
		{"admin deletes", admin, del, &skiffv1.DeleteRequest{Kind: podKind, Namespace: "default", Name: "web"}, codes.OK, ""},
		{"admin attaches", admin, skiffv1.PodIO_Attach_FullMethodName,
			&skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Namespace: "default", Pod: "web", Stdin: true, Tty: true}}, codes.OK, ""},
		{"admin unknown method", admin, "/skiff.v1.Tokens/Create", nil, codes.OK, ""},

		// Nodes read what they need.
		{"node lists its pods", n1, list, &skiffv1.ListRequest{Kind: podKind, FieldSelector: "status.phase=Running,spec.nodeName==n1"}, codes.OK, ""},
		{"node lists all pods", n1, list, &skiffv1.ListRequest{Kind: podKind}, codes.PermissionDenied,
			"node:n1 may not list pods: a node reads only its own pods (list and watch them with the field selector spec.nodeName=<node>), the volumes, ConfigMaps and Secrets they use (one by one), nodes, its own Lease, and services and endpoints (for its proxy)"},
		{"node lists n2's pods", n1, list, &skiffv1.ListRequest{Kind: podKind, FieldSelector: "spec.nodeName=n2"}, codes.PermissionDenied, ""},
		{"node gets its pod", n1, get, &skiffv1.GetRequest{Kind: podKind, Namespace: "default", Name: "mine"}, codes.OK, ""},
		{"node gets n2's pod", n1, get, &skiffv1.GetRequest{Kind: podKind, Namespace: "default", Name: "web"}, codes.PermissionDenied,
			"node:n1 may not get pods/default/web: it is bound to node n2"},
		{"node watches its pods", n1, watch, &skiffv1.WatchRequest{Kind: podKind, FieldSelector: "spec.nodeName=n1"}, codes.OK, ""},
		{"node gets a volume", n1, get, &skiffv1.GetRequest{Kind: skiffv1.Kind_KIND_VOLUME, Namespace: "default", Name: "v"}, codes.OK, ""},
		{"node lists nodes", n1, list, &skiffv1.ListRequest{Kind: nodeKind}, codes.OK, ""},
		{"node lists replicasets", n1, list, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_REPLICA_SET, Namespace: "default"}, codes.PermissionDenied,
			"node:n1 may not list replicasets/default: a node reads only its own pods (list and watch them with the field selector spec.nodeName=<node>), the volumes, ConfigMaps and Secrets they use (one by one), nodes, its own Lease, and services and endpoints (for its proxy)"},

		// Nodes write their own Node only.
		{"node registers itself", n1, create, &skiffv1.CreateRequest{Object: obj(node("n1"))}, codes.OK, ""},
		{"node heartbeats", n1, updateStatus, &skiffv1.UpdateRequest{Object: obj(node("n1"))}, codes.OK, ""},
		{"node registers n2", n1, create, &skiffv1.CreateRequest{Object: obj(node("n2"))}, codes.PermissionDenied,
			"node:n1 may not create nodes/n2: a node may only register itself"},
		{"node writes n2's status", n1, updateStatus, &skiffv1.UpdateRequest{Object: obj(node("n2"))}, codes.PermissionDenied,
			"node:n1 may not update nodes/n2: a node may only update its own Node"},
		{"node uncordons itself", n1, update, &skiffv1.UpdateRequest{Object: obj(node("n1"))}, codes.PermissionDenied,
			"node:n1 may not update nodes/n1: a node may only update status, not spec"},

		// Pod status and deletion: only pods bound to it, by the stored pod.
		{"node updates its pod", n1, updateStatus, &skiffv1.UpdateRequest{Object: obj(pod("default", "mine", "n1"))}, codes.OK, ""},
		{"node updates n2's pod", n1, updateStatus, &skiffv1.UpdateRequest{Object: obj(pod("default", "web", "n1"))}, codes.PermissionDenied,
			"node:n1 may not update pods/default/web: it is bound to node n2"},
		{"node updates an unbound pod", n1, updateStatus, &skiffv1.UpdateRequest{Object: obj(pod("default", "ready", ""))}, codes.PermissionDenied,
			"node:n1 may not update pods/default/ready: it is not bound to any node"},
		{"node updates a missing pod", n1, updateStatus, &skiffv1.UpdateRequest{Object: obj(pod("default", "gone", "n1"))}, codes.NotFound,
			"pods/default/gone not found"},
		{"node force-deletes its pod", n1, del, &skiffv1.DeleteRequest{Kind: podKind, Namespace: "default", Name: "mine", Force: true}, codes.OK, ""},
		{"node force-deletes n2's pod", n1, del, &skiffv1.DeleteRequest{Kind: podKind, Namespace: "default", Name: "web", Force: true}, codes.PermissionDenied,
			"node:n1 may not delete pods/default/web: it is bound to node n2"},
		{"node deletes gracefully", n1, del, &skiffv1.DeleteRequest{Kind: podKind, Namespace: "default", Name: "mine"}, codes.PermissionDenied, ""},
		{"node deletes a node", n1, del, &skiffv1.DeleteRequest{Kind: nodeKind, Name: "n2", Force: true}, codes.PermissionDenied,
			"node:n1 may not delete nodes/n2: nodes delete only pods bound to them"},
		{"node creates a pod", n1, create, &skiffv1.CreateRequest{Object: obj(pod("default", "x", "n1"))}, codes.PermissionDenied, ""},
		{"node creates an event", n1, create, &skiffv1.CreateRequest{Object: obj(event("mine", "agent/n1"))}, codes.OK, ""},
		{"node creates an event about n2's pod", n1, create, &skiffv1.CreateRequest{Object: obj(event("web", "agent/n1"))}, codes.PermissionDenied,
			"node:n1 may not create events/default/e: it is about pods/default/web: it is bound to node n2"},
		{"node creates an event as the scheduler", n1, create, &skiffv1.CreateRequest{Object: obj(event("mine", "scheduler"))}, codes.PermissionDenied,
			`node:n1 may not create events/default/e: a node's events have source "agent/n1"`},
		{"node binds", n1, bind, &skiffv1.BindRequest{Namespace: "default", Name: "web", NodeName: "n1"}, codes.PermissionDenied, ""},

		// Usage for itself only.
		{"node reports itself", n1, report, &skiffv1.UsageReport{Node: "n1"}, codes.OK, ""},
		{"node reports n2", n1, report, &skiffv1.UsageReport{Node: "n2"}, codes.PermissionDenied,
			"node:n1 may not report usage for node n2: a node may only report its own usage"},
		{"node reads logs", n1, logs, &skiffv1.LogsRequest{Namespace: "default", Pod: "web"}, codes.PermissionDenied, ""},
		{"node renews", n1, MethodJoinRenewNode, nil, codes.OK, ""},
		{"node signs", n1, MethodJoinSignNode, nil, codes.PermissionDenied, ""},
		{"node without request", n1, watch, nil, codes.PermissionDenied, ""},

		// Scheduler.
		{"scheduler binds", sched, bind, &skiffv1.BindRequest{Namespace: "default", Name: "web", NodeName: "n2"}, codes.OK, ""},
		{"scheduler watches", sched, watch, &skiffv1.WatchRequest{Kind: podKind}, codes.OK, ""},
		{"scheduler sets pod status", sched, updateStatus, &skiffv1.UpdateRequest{Object: obj(pod("default", "web", ""))}, codes.OK, ""},
		{"scheduler deletes", sched, del, &skiffv1.DeleteRequest{Kind: podKind, Namespace: "default", Name: "web"}, codes.PermissionDenied,
			"scheduler may not delete pods/default/web: the scheduler only reads, binds pods, updates pod status and volumes, and records events"},

		// Controller.
		{"controller creates pods", ctrl, create, &skiffv1.CreateRequest{Object: obj(pod("default", "x", ""))}, codes.OK, ""},
		{"controller reads usage", ctrl, usageGet, &skiffv1.UsageQuery{}, codes.OK, ""},
		{"controller binds", ctrl, bind, &skiffv1.BindRequest{Namespace: "default", Name: "web", NodeName: "n2"}, codes.PermissionDenied, ""},
		{"controller execs", ctrl, skiffv1.PodIO_Exec_FullMethodName, nil, codes.PermissionDenied, ""},
		{"controller attaches", ctrl, skiffv1.PodIO_Attach_FullMethodName, nil, codes.PermissionDenied, ""},
		{"controller port-forwards", ctrl, skiffv1.PodIO_PortForward_FullMethodName, nil, codes.PermissionDenied, ""},

		// Viewer: reads all but Secrets, writes nothing.
		{"viewer lists pods", viewer, list, &skiffv1.ListRequest{Kind: podKind}, codes.OK, ""},
		{"viewer watches deployments", viewer, watch, &skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_DEPLOYMENT}, codes.OK, ""},
		{"viewer reads logs", viewer, logs, &skiffv1.LogsRequest{Namespace: "default", Pod: "web"}, codes.OK, ""},
		{"viewer reads usage", viewer, usageGet, &skiffv1.UsageQuery{}, codes.OK, ""},
		{"viewer gets a secret", viewer, get, &skiffv1.GetRequest{Kind: skiffv1.Kind_KIND_SECRET, Namespace: "default", Name: "s"}, codes.PermissionDenied,
			"viewer may not get secrets/default/s: a viewer may not read Secrets"},
		{"viewer deletes a pod", viewer, del, &skiffv1.DeleteRequest{Kind: podKind, Namespace: "default", Name: "web"}, codes.PermissionDenied,
			"viewer may not delete pods/default/web: a viewer only reads"},
		{"viewer scales", viewer, update, &skiffv1.UpdateRequest{Object: obj(pod("default", "web", ""))}, codes.PermissionDenied, ""},
		{"viewer execs", viewer, skiffv1.PodIO_Exec_FullMethodName, nil, codes.PermissionDenied, ""},
		{"viewer attaches", viewer, skiffv1.PodIO_Attach_FullMethodName,
			&skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Namespace: "default", Pod: "web", Stdin: true}}, codes.PermissionDenied,
			"viewer may not attach to pods/default/web: a viewer only reads"},
		{"viewer port-forwards", viewer, skiffv1.PodIO_PortForward_FullMethodName,
			&skiffv1.PortForwardInput{Start: &skiffv1.PortForwardStart{Namespace: "default", Pod: "web", Port: 80}}, codes.PermissionDenied,
			"viewer may not port-forward to pods/default/web: a viewer only reads"},
		{"viewer makes tokens", viewer, "/skiff.v1.Tokens/Create", nil, codes.PermissionDenied, ""},
		{"viewer without request", viewer, watch, nil, codes.PermissionDenied, ""},

		// Bootstrap: one method.
		{"bootstrap signs", boot, MethodJoinSignNode, nil, codes.OK, ""},
		{"bootstrap lists pods", boot, list, &skiffv1.ListRequest{Kind: podKind}, codes.PermissionDenied,
			"bootstrap may not list pods: a join token may only call /skiff.v1.Join/SignNode"},
		{"bootstrap renews", boot, MethodJoinRenewNode, nil, codes.PermissionDenied, ""},
		{"health is open", boot, "/grpc.health.v1.Health/Check", nil, codes.OK, ""},

		// Unknown identities and methods.
		{"stranger lists", stranger, list, &skiffv1.ListRequest{Kind: podKind}, codes.PermissionDenied,
			"someone may not list pods: only admin may call /skiff.v1.Objects/List"},
		{"scheduler unknown method", sched, "/skiff.v1.Tokens/Create", nil, codes.PermissionDenied,
			"scheduler may not call /skiff.v1.Tokens/Create: the scheduler only reads, binds pods, updates pod status and volumes, and records events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Authorize(context.Background(), tc.id, tc.method, tc.req)
			st, _ := status.FromError(err)
			if st.Code() != tc.code {
				t.Fatalf("code = %v (%v), want %v", st.Code(), err, tc.code)
			}
			if tc.msg != "" && st.Message() != tc.msg {
				t.Fatalf("message:\n got %q\nwant %q", st.Message(), tc.msg)
			}
		})
	}
}

func TestTargetString(t *testing.T) {
	for want, tg := range map[string]Target{
		"pods/default/web": {Kind: skiffv1.Kind_KIND_POD, Namespace: "default", Name: "web"},
		"nodes/n1":         {Kind: skiffv1.Kind_KIND_NODE, Namespace: "ignored", Name: "n1"},
		"pods":             {Kind: skiffv1.Kind_KIND_POD},
		"services/kube":    {Kind: skiffv1.Kind_KIND_SERVICE, Namespace: "kube"},
	} {
		if got := tg.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
