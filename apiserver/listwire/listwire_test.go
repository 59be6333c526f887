package listwire

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// pod is a pod as the server stores one (~250 B encoded); its maps have
// one entry, so proto.Marshal's output is fixed.
func pod(i int) *skiffv1.Pod {
	now := timestamppb.New(time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC))
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Namespace: "team", Name: fmt.Sprintf("web-7f9c-%05d", i), ResourceVersion: fmt.Sprint(100000 + i),
			Uid: fmt.Sprintf("0b6f1a3e-5a4c-4b8e-9a55-2f1d6c1%05d", i), CreationTimestamp: now, Generation: 1,
			Labels: map[string]string{"app": "web"}},
		Spec: &skiffv1.PodSpec{NodeName: fmt.Sprintf("node-%04d", i%5000), Containers: []*skiffv1.Container{{Name: "main", Image: "registry.local/web:1.4.2",
			Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m"}}}}},
		Status: &skiffv1.PodStatus{Phase: skiffv1.PodPending, Conditions: []*skiffv1.Condition{
			{Type: skiffv1.PodScheduled, Status: skiffv1.ConditionTrue, LastTransitionTime: now}}},
	}
}

// encode writes resp's items with EncodeItem and the rest of it as a
// Response, through the codec.
func encode(t *testing.T, resp *skiffv1.ListResponse) []byte {
	t.Helper()
	r := &Response{ResourceVersion: resp.ResourceVersion, Continue: resp.Continue, RemainingItemCount: resp.RemainingItemCount}
	for _, it := range resp.Items {
		b, err := EncodeItem(it.Unwrap())
		if err != nil {
			t.Fatal(err)
		}
		r.Items = append(r.Items, b)
	}
	data, err := NewCodec().Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Free()
	if got := data.Len(); got != r.Size() {
		t.Errorf("wrote %d bytes, Size says %d", got, r.Size())
	}
	return data.Materialize()
}

// The codec's bytes for a Response decode to the ListResponse it stands
// for and are the bytes proto.Marshal gives that ListResponse.
func TestResponseIsAListResponse(t *testing.T) {
	many := &skiffv1.ListResponse{ResourceVersion: "9000", Continue: "tok"}
	for i := range 2000 { // past gRPC's buffer pooling threshold
		many.Items = append(many.Items, skiffv1.Wrap(pod(i)))
	}
	for name, want := range map[string]*skiffv1.ListResponse{
		"empty":          {},
		"no items":       {ResourceVersion: "7"},
		"one page":       {Items: []*skiffv1.Object{skiffv1.Wrap(pod(1)), skiffv1.Wrap(pod(2))}, ResourceVersion: "12", Continue: "next", RemainingItemCount: 300},
		"negative count": {Items: []*skiffv1.Object{skiffv1.Wrap(pod(1))}, RemainingItemCount: -1},
		"kinds": {Items: []*skiffv1.Object{
			skiffv1.Wrap(&skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "team"}, Status: &skiffv1.NamespaceStatus{Phase: "Active"}}),
			skiffv1.Wrap(&skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}, Spec: &skiffv1.NodeSpec{PodCidr: "10.0.1.0/24"}}),
			skiffv1.Wrap(&skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Namespace: "team", Name: "s"}, Data: map[string][]byte{"k": {0, 1, 255}}}),
			skiffv1.Wrap(&skiffv1.Lease{Metadata: &skiffv1.ObjectMeta{Namespace: "kube-node-lease", Name: "n1"}}),
			{}, // an empty envelope is an empty item
		}, ResourceVersion: "3"},
		"many": many,
	} {
		t.Run(name, func(t *testing.T) {
			b := encode(t, want)
			got := &skiffv1.ListResponse{}
			if err := proto.Unmarshal(b, got); err != nil {
				t.Fatalf("the bytes are no ListResponse: %v", err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("decoded %v\nwant    %v", got, want)
			}
			// Maps of one entry at most: proto.Marshal's order is fixed.
			if ref, err := proto.Marshal(want); err != nil || !bytes.Equal(b, ref) {
				t.Errorf("the bytes differ from proto.Marshal's (%v)", err)
			}
		})
	}
}

// Every other message goes through gRPC's proto codec.
func TestCodecPassesOtherMessages(t *testing.T) {
	c := NewCodec()
	if c.Name() != "proto" {
		t.Fatalf("name %q, want proto: clients ask for that content subtype", c.Name())
	}
	want := &skiffv1.ListResponse{Items: []*skiffv1.Object{skiffv1.Wrap(pod(1))}, ResourceVersion: "5"}
	data, err := c.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got := &skiffv1.ListResponse{}
	if err := c.Unmarshal(data, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("round trip gave %v, want %v", got, want)
	}
	if _, err := c.Marshal(struct{}{}); err == nil {
		t.Error("a value that is no message was marshalled")
	}
}

// The server's part of a list of 50,000 pods: marshalled per request
// (the codec given a ListResponse) against written from encoded items.
func BenchmarkList50000(b *testing.B) {
	resp := &skiffv1.ListResponse{ResourceVersion: "123456"}
	pre := &Response{ResourceVersion: "123456"}
	for i := range 50000 {
		p := pod(i)
		resp.Items = append(resp.Items, skiffv1.Wrap(p))
		enc, err := EncodeItem(p)
		if err != nil {
			b.Fatal(err)
		}
		pre.Items = append(pre.Items, enc)
	}
	c := NewCodec()
	for name, v := range map[string]any{"marshal": resp, "pre-encoded": pre} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				data, err := c.Marshal(v)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(data.Len()))
				data.Free()
			}
		})
	}
}
