package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/apiserver/validation"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fuzzSeeds are valid objects of every kind, so the fuzzer starts from
// requests the server accepts.
func fuzzSeeds() []skiffv1.Resource {
	one := int32(1)
	labels := map[string]string{"app": "web"}
	return []skiffv1.Resource{
		&skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "team", Labels: labels}},
		&skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1.example"}, Spec: &skiffv1.NodeSpec{Taints: []*skiffv1.Taint{{Key: "k", Effect: "NoSchedule"}}},
			Status: &skiffv1.NodeStatus{Capacity: map[string]string{"cpu": "2", "memory": "1Gi"}}},
		pod("web"),
		&skiffv1.Service{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.ServiceSpec{Selector: labels,
			Ports: []*skiffv1.ServicePort{{Name: "http", Port: 80, TargetPort: "http"}, {Name: "dns", Port: 53, Protocol: "UDP"}}}},
		&skiffv1.Volume{Metadata: &skiffv1.ObjectMeta{Name: "data"}, Spec: &skiffv1.VolumeSpec{Capacity: "1Gi", HostPath: &skiffv1.HostPathSource{Path: "/srv"}}},
		&skiffv1.ReplicaSet{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.ReplicaSetSpec{Replicas: &one,
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: labels}, Spec: pod("x").Spec}}},
		&skiffv1.Autoscaler{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.AutoscalerSpec{Target: "web", MaxReplicas: 3}},
		&skiffv1.Event{Metadata: &skiffv1.ObjectMeta{Name: "web.1"}, InvolvedObject: &skiffv1.ObjectReference{Kind: "Pod", Name: "web"}, Reason: "Started"},
	}
}

// FuzzCreate decodes arbitrary bytes as an object of each kind and runs
// what Create runs on it: server-set fields, initial status, defaults,
// validation. It must never panic, and defaulting must be settled (a
// second pass changes nothing). What validation accepts must survive the
// wire and the store unchanged: the protobuf encoding etcd keeps, the JSON
// `skiff get -o json` prints, and a real API server (embedded etcd), whose
// Create and Get both return the object that was validated.
func FuzzCreate(f *testing.F) {
	kinds := skiffv1.Kinds()
	for _, obj := range fuzzSeeds() {
		b, err := proto.Marshal(obj)
		if err != nil {
			f.Fatal(err)
		}
		info, _ := skiffv1.Info(skiffv1.KindOf(obj))
		for i, k := range kinds {
			if k.Kind == info.Kind {
				f.Add(b, uint8(i))
			}
		}
	}
	f.Add([]byte{}, uint8(0))
	srv := apitest.Start(f)
	n := 0
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		info := kinds[int(k)%len(kinds)]
		obj := info.New()
		if proto.Unmarshal(data, obj) != nil {
			return // gRPC refuses these before the server sees them
		}
		obj, err := apiserver.PrepareCreate(skiffv1.Wrap(obj))
		if err != nil {
			if _, ok := err.(validation.Errors); !ok && status.Code(err) != codes.InvalidArgument {
				t.Fatalf("refused with %v, not InvalidArgument or field errors", err)
			}
			return
		}
		again := proto.Clone(obj).(skiffv1.Resource)
		validation.Default(again)
		if !proto.Equal(obj, again) {
			t.Fatalf("defaulting twice changed the object:\n%v\n%v", obj, again)
		}
		roundTrip(t, obj)

		// The real server, in the default namespace under a fresh name
		// (names and namespaces are checked above; uniqueness is not the
		// point here). A node's pod CIDR is the server's to give.
		n++
		want := proto.Clone(obj).(skiffv1.Resource)
		m := want.GetMetadata()
		m.Name = fmt.Sprintf("fuzz-%d", n)
		if info.Namespaced {
			m.Namespace = "default"
		}
		if node, ok := want.(*skiffv1.Node); ok {
			node.Spec.PodCidr = ""
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		created, err := srv.Client.API().Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(want)})
		if _, isSvc := want.(*skiffv1.Service); isSvc && err != nil &&
			(strings.Contains(err.Error(), "already allocated") || strings.Contains(err.Error(), "not an address of the service CIDR")) {
			return // the allocator's refusals: the range and what is taken are the server's, not validation's
		}
		if err != nil {
			t.Fatalf("validation accepted %v, the server refused it: %v", want, err)
		}
		got, err := srv.Client.API().Get(ctx, &skiffv1.GetRequest{Kind: info.Kind, Namespace: m.Namespace, Name: m.Name})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(created, got) {
			t.Fatalf("Create returned\n%v\nGet returns\n%v", created, got)
		}
		if diff := sameAsValidated(want, got.Unwrap()); diff != "" {
			t.Fatalf("stored object differs from the one validated (%s):\nsent %v\ngot  %v", diff, want, got.Unwrap())
		}
	})
}

// roundTrip checks an accepted object through its two encodings.
func roundTrip(t *testing.T, obj skiffv1.Resource) {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(obj)
	if err != nil {
		t.Fatalf("accepted object does not marshal: %v", err)
	}
	back := obj.ProtoReflect().Type().New().Interface().(skiffv1.Resource)
	if err := proto.Unmarshal(b, back); err != nil || !proto.Equal(obj, back) {
		t.Fatalf("protobuf round trip: %v\n%v\n%v", err, obj, back)
	}
	if err := validation.Validate(back); err != nil {
		t.Fatalf("valid object invalid after a protobuf round trip: %v", err)
	}
	j, err := protojson.Marshal(obj)
	if err != nil {
		t.Fatalf("accepted object does not marshal to JSON: %v", err)
	}
	back = obj.ProtoReflect().Type().New().Interface().(skiffv1.Resource)
	if err := protojson.Unmarshal(j, back); err != nil || !proto.Equal(obj, back) {
		t.Fatalf("JSON round trip: %v\n%s\n%v", err, j, back)
	}
}

// sameAsValidated compares what was sent with what the server stored,
// leaving out what the server assigns itself (identity, times, revision,
// a node's pod CIDR). It returns "" when they agree.
func sameAsValidated(sent, stored skiffv1.Resource) string {
	a, b := proto.Clone(sent).(skiffv1.Resource), proto.Clone(stored).(skiffv1.Resource)
	for _, o := range []skiffv1.Resource{a, b} {
		m := o.GetMetadata()
		m.Uid, m.CreationTimestamp, m.ResourceVersion = "", nil, ""
		if node, ok := o.(*skiffv1.Node); ok {
			node.Spec.PodCidr = ""
		}
	}
	if s, ok := a.(*skiffv1.Service); ok {
		// A ClusterIP and node ports left out are the server's to give;
		// one asked for must be kept.
		got := b.(*skiffv1.Service).GetSpec()
		if s.GetSpec().GetClusterIp() == "" {
			s.Spec.ClusterIp = got.GetClusterIp()
		}
		if len(s.GetSpec().GetClusterIps()) == 0 {
			s.Spec.ClusterIps = got.GetClusterIps()
		}
		for i, p := range s.GetSpec().GetPorts() {
			if p.NodePort == 0 && i < len(got.GetPorts()) {
				p.NodePort = got.GetPorts()[i].GetNodePort()
			}
		}
	}
	if s, ok := a.(*skiffv1.Pod); ok {
		// The scheduled condition's time is the server's clock.
		for i, c := range s.GetStatus().GetConditions() {
			if st := b.(*skiffv1.Pod).GetStatus().GetConditions(); i < len(st) {
				c.LastTransitionTime = st[i].LastTransitionTime
			}
		}
	}
	if !proto.Equal(a, b) {
		return "not proto.Equal"
	}
	return ""
}
