package apiserver_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/grpcrecover/panictest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// malformed is one request a client can send that the server must refuse
// by naming what is wrong, not by failing inside.
type malformed struct {
	name string
	call func(ctx context.Context, api skiffv1.ObjectsClient, io skiffv1.PodIOClient) error
	code codes.Code
	want string // in the message; names the field
}

// unary is the case of one call of an Objects method.
func unary[Req, Resp any](name string, method func(skiffv1.ObjectsClient, context.Context, Req, ...grpc.CallOption) (Resp, error), req Req, code codes.Code, want string) malformed {
	return malformed{name, func(ctx context.Context, api skiffv1.ObjectsClient, _ skiffv1.PodIOClient) error {
		_, err := method(api, ctx, req)
		return err
	}, code, want}
}

// TestMalformedRequestsNameTheField sends every kind of incomplete or
// nonsensical request through real gRPC to a real server. Each must be
// refused with InvalidArgument (or the code its meaning calls for) and a
// message naming the field; none may panic (Internal) or reach etcd.
func TestMalformedRequestsNameTheField(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	// Stored objects for the update, status and bind cases.
	if _, err := s.Client.Pods().Create(ctx, pod("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	meta := func(name string) *skiffv1.ObjectMeta { return &skiffv1.ObjectMeta{Name: name} }

	var cases []malformed
	create := func(name string, obj *skiffv1.Object, code codes.Code, want string) {
		cases = append(cases, unary("Create "+name, skiffv1.ObjectsClient.Create, &skiffv1.CreateRequest{Object: obj}, code, want))
	}
	update := func(name string, obj *skiffv1.Object, code codes.Code, want string) {
		cases = append(cases, unary("Update "+name, skiffv1.ObjectsClient.Update, &skiffv1.UpdateRequest{Object: obj}, code, want))
	}
	updateStatus := func(name string, obj *skiffv1.Object, code codes.Code, want string) {
		cases = append(cases, unary("UpdateStatus "+name, skiffv1.ObjectsClient.UpdateStatus, &skiffv1.UpdateRequest{Object: obj}, code, want))
	}

	create("no object", nil, codes.InvalidArgument, "object: no kind set")
	create("empty envelope", &skiffv1.Object{}, codes.InvalidArgument, "object: no kind set")
	update("no object", nil, codes.InvalidArgument, "object: no kind set")
	updateStatus("no object", nil, codes.InvalidArgument, "object: no kind set")
	// Every kind, empty: no metadata at all, then metadata without a name.
	for _, info := range skiffv1.Kinds() {
		empty := skiffv1.Wrap(info.New())
		create(info.Name+" without metadata", empty, codes.InvalidArgument, "metadata is required")
		update(info.Name+" without metadata", empty, codes.InvalidArgument, "metadata is required")
		updateStatus(info.Name+" without metadata", empty, codes.InvalidArgument, "metadata is required")
		noName := info.New()
		m := noName.ProtoReflect()
		m.Set(m.Descriptor().Fields().ByName("metadata"), protoreflect.ValueOfMessage((&skiffv1.ObjectMeta{}).ProtoReflect()))
		create(info.Name+" without a name", skiffv1.Wrap(noName), codes.InvalidArgument, "metadata.name")
	}
	// Missing or empty specs.
	create("Pod without spec", skiffv1.Wrap(&skiffv1.Pod{Metadata: meta("p")}), codes.InvalidArgument, "spec.containers: at least one container")
	create("Pod with an empty container", skiffv1.Wrap(&skiffv1.Pod{Metadata: meta("p"), Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{}}}}), codes.InvalidArgument, "spec.containers[0].image: required")
	create("ReplicaSet without spec", skiffv1.Wrap(&skiffv1.ReplicaSet{Metadata: meta("r")}), codes.InvalidArgument, "spec.template: required")
	create("ReplicaSet with a template without spec", skiffv1.Wrap(&skiffv1.ReplicaSet{Metadata: meta("r"), Spec: &skiffv1.ReplicaSetSpec{
		Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"a": "b"}}}}}), codes.InvalidArgument, "spec.template.spec.containers")
	create("ReplicaSet with an empty template", skiffv1.Wrap(&skiffv1.ReplicaSet{Metadata: meta("r"), Spec: &skiffv1.ReplicaSetSpec{
		Template: &skiffv1.PodTemplateSpec{}}}), codes.InvalidArgument, "spec.selector: required")
	create("ReplicationController without spec", skiffv1.Wrap(&skiffv1.ReplicationController{Metadata: meta("rc")}), codes.InvalidArgument, "spec.template: required")
	create("ReplicationController selecting other labels", skiffv1.Wrap(&skiffv1.ReplicationController{Metadata: meta("rc"), Spec: &skiffv1.ReplicationControllerSpec{
		Selector: map[string]string{"app": "x"}, Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "y"}}, Spec: pod("p").Spec}}}),
		codes.InvalidArgument, `spec.selector: "app=x" does not match the template's labels`)
	create("Autoscaler without spec", skiffv1.Wrap(&skiffv1.Autoscaler{Metadata: meta("a")}), codes.InvalidArgument, "spec.target")
	create("Event without anything", skiffv1.Wrap(&skiffv1.Event{Metadata: meta("e")}), codes.InvalidArgument, "involvedObject.name: required")
	create("Node with a bad pod CIDR", skiffv1.Wrap(&skiffv1.Node{Metadata: meta("n2"), Spec: &skiffv1.NodeSpec{PodCidr: "x"}}), codes.InvalidArgument, "spec.podCIDR")
	create("Pod with an empty owner reference", skiffv1.Wrap(&skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "p", OwnerReferences: []*skiffv1.OwnerReference{{}}},
		Spec: pod("p").Spec}), codes.InvalidArgument, "metadata.ownerReferences[0].kind: required")
	// Updates of stored objects that take their spec or status away.
	update("Pod without spec", skiffv1.Wrap(&skiffv1.Pod{Metadata: meta("web")}), codes.InvalidArgument, "spec.containers: at least one container")
	update("Pod with a bad resource version", skiffv1.Wrap(&skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "web", ResourceVersion: "x"}}), codes.InvalidArgument, "metadata.resourceVersion")
	update("Pod that does not exist", skiffv1.Wrap(&skiffv1.Pod{Metadata: meta("nope")}), codes.NotFound, `pod "nope" not found`)
	update("Node without spec", skiffv1.Wrap(&skiffv1.Node{Metadata: meta("n1")}), codes.OK, "")
	updateStatus("Pod without status", skiffv1.Wrap(&skiffv1.Pod{Metadata: meta("web")}), codes.InvalidArgument, "status: required")
	updateStatus("Node without status", skiffv1.Wrap(&skiffv1.Node{Metadata: meta("n1")}), codes.InvalidArgument, "status: required")
	updateStatus("Node with a bad capacity", skiffv1.Wrap(&skiffv1.Node{Metadata: meta("n1"), Status: &skiffv1.NodeStatus{Capacity: map[string]string{"cpu": "lots"}}}),
		codes.InvalidArgument, "status.capacity.cpu")
	updateStatus("Event, which has no status", skiffv1.Wrap(&skiffv1.Event{Metadata: meta("e")}), codes.InvalidArgument, "Event has no status")
	updateStatus("Pod with an empty status", skiffv1.Wrap(&skiffv1.Pod{Metadata: meta("web"), Status: &skiffv1.PodStatus{}}), codes.OK, "")

	other := []malformed{
		unary("Bind without a name", skiffv1.ObjectsClient.Bind, &skiffv1.BindRequest{NodeName: "n1"}, codes.InvalidArgument, "name: required"),
		unary("Bind without a node", skiffv1.ObjectsClient.Bind, &skiffv1.BindRequest{Name: "web"}, codes.InvalidArgument, "nodeName: required"),
		unary("Bind with a bad resource version", skiffv1.ObjectsClient.Bind, &skiffv1.BindRequest{Name: "web", NodeName: "n1", ResourceVersion: "-1"}, codes.InvalidArgument, "resourceVersion"),
		unary("Bind to a node that does not exist", skiffv1.ObjectsClient.Bind, &skiffv1.BindRequest{Name: "web", NodeName: "nope"}, codes.NotFound, `node "nope" not found`),
		// After the empty status above: Bind must still find its way.
		unary("Bind a pod whose status was emptied", skiffv1.ObjectsClient.Bind, &skiffv1.BindRequest{Name: "web", NodeName: "n1"}, codes.OK, ""),
		unary("Get without a kind", skiffv1.ObjectsClient.Get, &skiffv1.GetRequest{Name: "web"}, codes.InvalidArgument, "kind"),
		unary("Get without a name", skiffv1.ObjectsClient.Get, &skiffv1.GetRequest{Kind: skiffv1.Kind_KIND_POD}, codes.InvalidArgument, "name: required"),
		unary("Delete of an unknown kind", skiffv1.ObjectsClient.Delete, &skiffv1.DeleteRequest{Kind: skiffv1.Kind(99), Name: "web"}, codes.InvalidArgument, "kind: 99 is not a kind"),
		unary("Delete without a name", skiffv1.ObjectsClient.Delete, &skiffv1.DeleteRequest{Kind: skiffv1.Kind_KIND_POD}, codes.InvalidArgument, "name: required"),
		unary("Delete with a bad propagation", skiffv1.ObjectsClient.Delete, &skiffv1.DeleteRequest{Kind: skiffv1.Kind_KIND_POD, Name: "web", Propagation: "Sideways"}, codes.InvalidArgument, "propagation"),
		unary("Delete with a negative grace period", skiffv1.ObjectsClient.Delete, &skiffv1.DeleteRequest{Kind: skiffv1.Kind_KIND_POD, Name: "web", GracePeriodSeconds: proto.Int64(-1)}, codes.InvalidArgument, "gracePeriodSeconds"),
		unary("List with a bad label selector", skiffv1.ObjectsClient.List, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "a in (b"}, codes.InvalidArgument, "label selector"),
		unary("List with a bad field selector", skiffv1.ObjectsClient.List, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_NODE, FieldSelector: "status.phase=x"}, codes.InvalidArgument, "field selector"),
		unary("List of a cluster kind in a namespace", skiffv1.ObjectsClient.List, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_NODE, Namespace: "x"}, codes.OK, ""),
		{"Watch without a kind", func(ctx context.Context, api skiffv1.ObjectsClient, _ skiffv1.PodIOClient) error {
			return firstOnStream(api.Watch(ctx, &skiffv1.WatchRequest{}))
		}, codes.InvalidArgument, "kind"},
		{"Watch from a bad revision", func(ctx context.Context, api skiffv1.ObjectsClient, _ skiffv1.PodIOClient) error {
			return firstOnStream(api.Watch(ctx, &skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_POD, ResourceVersion: "-5"}))
		}, codes.InvalidArgument, "resourceVersion"},
		{"Watch with a bad field selector", func(ctx context.Context, api skiffv1.ObjectsClient, _ skiffv1.PodIOClient) error {
			return firstOnStream(api.Watch(ctx, &skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_POD, FieldSelector: "nonsense"}))
		}, codes.InvalidArgument, "field selector"},
		{"Logs without a pod", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return firstOnStream(io.Logs(ctx, &skiffv1.LogsRequest{}))
		}, codes.InvalidArgument, "pod: required"},
		{"Logs of a pod that does not exist", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return firstOnStream(io.Logs(ctx, &skiffv1.LogsRequest{Pod: "nope"}))
		}, codes.NotFound, `pod "nope" not found`},
		{"Exec that sends nothing", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return exec(ctx, io, nil)
		}, codes.InvalidArgument, "first message"},
		{"Exec that starts with stdin", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return exec(ctx, io, &skiffv1.ExecInput{Stdin: []byte("x")})
		}, codes.InvalidArgument, "first message"},
		{"Exec without a pod", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return exec(ctx, io, &skiffv1.ExecInput{Start: &skiffv1.ExecStart{Command: []string{"sh"}}})
		}, codes.InvalidArgument, "pod: required"},
		{"Exec without a command", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return exec(ctx, io, &skiffv1.ExecInput{Start: &skiffv1.ExecStart{Pod: "web"}})
		}, codes.InvalidArgument, "command: required"},
		{"Attach that sends nothing", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return attach(ctx, io, nil)
		}, codes.InvalidArgument, "first message"},
		{"Attach that starts with stdin", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return attach(ctx, io, &skiffv1.ExecInput{Stdin: []byte("x")})
		}, codes.InvalidArgument, "first message"},
		{"Attach that starts as an exec", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return attach(ctx, io, &skiffv1.ExecInput{Start: &skiffv1.ExecStart{Pod: "web", Command: []string{"sh"}}})
		}, codes.InvalidArgument, "first message must carry attach"},
		{"Attach without a pod", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return attach(ctx, io, &skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Stdin: true}})
		}, codes.InvalidArgument, "pod: required"},
		{"Attach to a pod that does not exist", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return attach(ctx, io, &skiffv1.ExecInput{Attach: &skiffv1.AttachStart{Pod: "nope"}})
		}, codes.NotFound, `pod "nope" not found`},
		{"PortForward that sends nothing", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return portForward(ctx, io, nil)
		}, codes.InvalidArgument, "first message"},
		{"PortForward that starts with data", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return portForward(ctx, io, &skiffv1.PortForwardInput{Data: []byte("x")})
		}, codes.InvalidArgument, "first message"},
		{"PortForward without a pod", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return portForward(ctx, io, &skiffv1.PortForwardInput{Start: &skiffv1.PortForwardStart{Port: 80}})
		}, codes.InvalidArgument, "pod: required"},
		{"PortForward to port 0", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return portForward(ctx, io, &skiffv1.PortForwardInput{Start: &skiffv1.PortForwardStart{Pod: "web"}})
		}, codes.InvalidArgument, "port 0: give 1 to 65535"},
		{"PortForward to a pod that does not exist", func(ctx context.Context, _ skiffv1.ObjectsClient, io skiffv1.PodIOClient) error {
			return portForward(ctx, io, &skiffv1.PortForwardInput{Start: &skiffv1.PortForwardStart{Pod: "nope", Port: 80}})
		}, codes.NotFound, `pod "nope" not found`},
	}
	cases = append(cases, other...)

	api, podIO := s.Client.API(), skiffv1.NewPodIOClient(s.Client.Conn())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(ctx, api, podIO)
			if status.Code(err) != c.code {
				t.Fatalf("got %v (%v), want %v", status.Code(err), err, c.code)
			}
			if msg := status.Convert(err).Message(); !strings.Contains(msg, c.want) {
				t.Fatalf("message %q does not name %q", msg, c.want)
			}
		})
	}
	if n := panictest.Counter(t, s.Registry, "skiff_apiserver_panics_total"); n != 0 {
		t.Errorf("%v requests panicked", n)
	}
}

// firstOnStream is how a server-streaming call ends, or nil once it
// delivers something.
func firstOnStream[T any](stream interface{ Recv() (T, error) }, err error) error {
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// exec opens an exec stream and returns how it ends after first (if
// any) is sent and the client's side closed.
func exec(ctx context.Context, io skiffv1.PodIOClient, first *skiffv1.ExecInput) error {
	stream, err := io.Exec(ctx)
	if err != nil {
		return err
	}
	return sendFirst(stream, first)
}

// attach is exec for an attach stream.
func attach(ctx context.Context, io skiffv1.PodIOClient, first *skiffv1.ExecInput) error {
	stream, err := io.Attach(ctx)
	if err != nil {
		return err
	}
	return sendFirst(stream, first)
}

// portForward is exec for a port-forward stream.
func portForward(ctx context.Context, io skiffv1.PodIOClient, first *skiffv1.PortForwardInput) error {
	stream, err := io.PortForward(ctx)
	if err != nil {
		return err
	}
	return sendFirst(stream, first)
}

// sendFirst sends first (if any), closes the client's side and returns
// how the stream ends.
func sendFirst[In, Out any](stream grpc.BidiStreamingClient[In, Out], first *In) error {
	if first != nil {
		if err := stream.Send(first); err != nil {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	_, err := stream.Recv()
	return err
}

// TestPanicInAHandlerFailsOnlyThatCall registers a service whose handlers
// panic: each call gets Internal, the counter goes up, and the server (and
// its etcd) keeps serving.
func TestPanicInAHandlerFailsOnlyThatCall(t *testing.T) {
	s := apitest.Start(t, func(c *apiserver.Config) { c.RegisterServices = panictest.Register })
	ctx := ctxT(t)
	for i, call := range []func(context.Context, grpc.ClientConnInterface) error{panictest.CallUnary, panictest.CallStream} {
		if err := call(ctx, s.Client.Conn()); status.Code(err) != codes.Internal {
			t.Fatalf("call %d: got %v, want Internal", i, err)
		}
		if n := panictest.Counter(t, s.Registry, "skiff_apiserver_panics_total"); n != float64(i+1) {
			t.Errorf("after call %d: skiff_apiserver_panics_total = %v, want %d", i, n, i+1)
		}
	}
	if n := requests(t, s, panictest.Unary, "Internal"); n != 1 {
		t.Errorf("requests_total{code=Internal} for the panicking call = %v, want 1", n)
	}
	if _, err := s.Client.Pods().Create(ctx, pod("after")); err != nil {
		t.Fatalf("the server stopped serving after the panics: %v", err)
	}
}
