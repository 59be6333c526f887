package client

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func wirePods(n int) *skiffv1.ListResponse {
	resp := &skiffv1.ListResponse{ResourceVersion: "4711", Continue: "token", RemainingItemCount: 12}
	for i := range n {
		resp.Items = append(resp.Items, skiffv1.Wrap(&skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default", ResourceVersion: fmt.Sprint(i + 1),
				Labels: map[string]string{"app": fmt.Sprintf("rs-%d", i%7), "tier": "web"}},
			Spec: &skiffv1.PodSpec{NodeName: fmt.Sprintf("n%d", i%3), Containers: []*skiffv1.Container{{
				Name: "c", Image: "busybox", Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "10m"}},
			}}},
		}))
	}
	return resp
}

// decodeWire is what a list over gRPC now does with a page's bytes.
func decodeWire(b []byte) (*skiffv1.ListResponse, error) {
	items, rest, err := parseListResponse(b)
	if err != nil {
		return nil, err
	}
	rest.Items = make([]*skiffv1.Object, len(items))
	if err := decodeItems(items, rest.Items); err != nil {
		return nil, err
	}
	return rest, nil
}

// chunked is b as gRPC may hand it over: in buffers of size bytes.
func chunked(b []byte, size int) mem.BufferSlice {
	var out mem.BufferSlice
	for len(b) > 0 {
		n := min(size, len(b))
		out = append(out, mem.SliceBuffer(append([]byte(nil), b[:n]...)))
		b = b[n:]
	}
	return out
}

// decodeChunks is what a list over gRPC does with a page received in
// buffers of size bytes.
func decodeChunks(b []byte, size int) (*skiffv1.ListResponse, error) {
	var p wirePage
	if err := (wireCodec{}).Unmarshal(chunked(b, size), &p); err != nil {
		return nil, err
	}
	return p.decode()
}

// A page's items decoded apart, on several goroutines, are the
// ListResponse proto.Unmarshal decodes, whatever the size (one worker or
// several) and the order of its fields.
func TestWirePageDecodesAsUnmarshal(t *testing.T) {
	for _, n := range []int{0, 1, 300, 2000} {
		want := wirePods(n)
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		// The same fields, the revision first and continue between items.
		var shuffled []byte
		shuffled = protowire.AppendTag(shuffled, 2, protowire.BytesType)
		shuffled = protowire.AppendString(shuffled, "ignored: a later one wins")
		items, rest, err := parseListResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		if rest.ResourceVersion != "4711" || rest.Continue != "token" || rest.RemainingItemCount != 12 || len(items) != n {
			t.Fatalf("n=%d: parsed rv %q continue %q remaining %d items %d", n, rest.ResourceVersion, rest.Continue, rest.RemainingItemCount, len(items))
		}
		restBytes, _ := proto.Marshal(rest)
		for i, it := range items {
			shuffled = protowire.AppendTag(shuffled, itemsField, protowire.BytesType)
			shuffled = protowire.AppendBytes(shuffled, it)
			if i == n/2 {
				shuffled = append(shuffled, restBytes...)
			}
		}
		if n == 0 {
			shuffled = append(shuffled, restBytes...)
		}
		for name, in := range map[string][]byte{"marshalled": b, "shuffled": shuffled} {
			var base skiffv1.ListResponse
			if err := proto.Unmarshal(in, &base); err != nil {
				t.Fatal(err)
			}
			got, err := decodeWire(in)
			if err != nil {
				t.Fatalf("n=%d %s: %v", n, name, err)
			}
			if !proto.Equal(got, &base) || !proto.Equal(got, want) {
				t.Fatalf("n=%d %s: decoded from the wire differs from proto.Unmarshal's", n, name)
			}
			// Received in buffers: items across two of them, tags and
			// lengths split, one byte a buffer.
			for _, size := range []int{1, 2, 3, 7, 100, 16384, len(in) + 1} {
				got, err := decodeChunks(in, size)
				if err != nil {
					t.Fatalf("n=%d %s in buffers of %d: %v", n, name, size, err)
				}
				if !proto.Equal(got, want) {
					t.Fatalf("n=%d %s in buffers of %d: decoded differs from proto.Unmarshal's", n, name, size)
				}
			}
		}
	}
}

// Malformed bytes are an error, as for proto.Unmarshal: cut short, an
// item that is no Object, a revision that is not UTF-8.
func TestWirePageRefusesWhatUnmarshalRefuses(t *testing.T) {
	b, err := proto.Marshal(wirePods(600))
	if err != nil {
		t.Fatal(err)
	}
	badItem := protowire.AppendTag(nil, itemsField, protowire.BytesType)
	badItem = protowire.AppendBytes(badItem, []byte{0x0a, 0x05, 0x01}) // a field longer than its message
	badRV := protowire.AppendTag(nil, 2, protowire.BytesType)
	badRV = protowire.AppendBytes(badRV, []byte{0xff, 0xfe})
	for name, in := range map[string][]byte{
		"cut short":     b[:len(b)-3],
		"bad item":      append(append([]byte(nil), b...), badItem...),
		"bad revision":  append(append([]byte(nil), b...), badRV...),
		"bad item only": badItem,
		"bad wire type": append(append([]byte(nil), b...), protowire.AppendTag(nil, 9, protowire.StartGroupType)...),
		"long varint":   append(append([]byte(nil), b...), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
	} {
		if err := proto.Unmarshal(in, new(skiffv1.ListResponse)); err == nil {
			t.Fatalf("%s: proto.Unmarshal accepts it; the case tests nothing", name)
		}
		if _, err := decodeWire(in); err == nil {
			t.Fatalf("%s: decoded without an error", name)
		}
		for _, size := range []int{1, 5, 16384} {
			if _, err := decodeChunks(in, size); err == nil {
				t.Fatalf("%s in buffers of %d: decoded without an error", name, size)
			}
		}
	}
}

// A page of 10,000 pods decoded whole by proto.Unmarshal, as the
// generated client does, and from its items apart on every core.
func BenchmarkDecodeListPage(b *testing.B) {
	page, err := proto.Marshal(wirePods(10000))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if err := proto.Unmarshal(page, new(skiffv1.ListResponse)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("items", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if _, err := decodeWire(page); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A Client's lists take the path above: its Objects client carries the
// connection that path reads pages through.
func TestClientListsFromBytes(t *testing.T) {
	c, err := New("127.0.0.1:1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	api, ok := c.API().(objectsAPI)
	if !ok || api.conn == nil {
		t.Fatalf("the client's Objects client is a %T without its connection: lists would decode pages whole", c.API())
	}
}
