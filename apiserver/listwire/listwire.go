// Package listwire sends list responses built from objects encoded once,
// when the watch cache stored them, instead of marshalling every object
// of every list again: a list of 150,000 pods is 38 MB of protobuf, and
// marshalling it took ~0.7 s of CPU per request. The bytes written are
// exactly a skiffv1.ListResponse, so clients decode them as any other.
// This is the one place that knows ListResponse's wire format.
package listwire

import (
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// EncodeItem is obj's wire encoding as a skiffv1.Object: one element of
// ListResponse.items, without its tag and length.
func EncodeItem(obj skiffv1.Resource) ([]byte, error) {
	return proto.Marshal(skiffv1.Wrap(obj))
}

// Response is a skiffv1.ListResponse whose items are already encoded, by
// EncodeItem. It is no proto.Message: Codec writes it.
type Response struct {
	Items              [][]byte
	ResourceVersion    string
	Continue           string
	RemainingItemCount int64
}

// ListResponse's field numbers, from its descriptor so they cannot drift.
var (
	fields         = (&skiffv1.ListResponse{}).ProtoReflect().Descriptor().Fields()
	itemsField     = fields.ByName("items").Number()
	revisionField  = fields.ByName("resource_version").Number()
	continueField  = fields.ByName("continue").Number()
	remainingField = fields.ByName("remaining_item_count").Number()
)

// Size is the length of r's encoding.
func (r *Response) Size() int {
	n := 0
	for _, it := range r.Items {
		n += protowire.SizeTag(itemsField) + protowire.SizeBytes(len(it))
	}
	if r.ResourceVersion != "" {
		n += protowire.SizeTag(revisionField) + protowire.SizeBytes(len(r.ResourceVersion))
	}
	if r.Continue != "" {
		n += protowire.SizeTag(continueField) + protowire.SizeBytes(len(r.Continue))
	}
	if r.RemainingItemCount != 0 {
		n += protowire.SizeTag(remainingField) + protowire.SizeVarint(uint64(r.RemainingItemCount))
	}
	return n
}

// AppendTo appends r's encoding to b: the fields in number order and
// proto3's defaults left out, as proto.Marshal writes a ListResponse.
func (r *Response) AppendTo(b []byte) []byte {
	for _, it := range r.Items {
		b = protowire.AppendTag(b, itemsField, protowire.BytesType)
		b = protowire.AppendBytes(b, it)
	}
	if r.ResourceVersion != "" {
		b = protowire.AppendTag(b, revisionField, protowire.BytesType)
		b = protowire.AppendString(b, r.ResourceVersion)
	}
	if r.Continue != "" {
		b = protowire.AppendTag(b, continueField, protowire.BytesType)
		b = protowire.AppendString(b, r.Continue)
	}
	if r.RemainingItemCount != 0 {
		b = protowire.AppendTag(b, remainingField, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(r.RemainingItemCount))
	}
	return b
}

// Codec is gRPC's proto codec that also writes a *Response; give it to
// the server with grpc.ForceServerCodecV2.
type Codec struct{ encoding.CodecV2 }

// NewCodec wraps gRPC's registered proto codec.
func NewCodec() Codec { return Codec{encoding.GetCodecV2(grpcproto.Name)} }

// Marshal writes a *Response from its bytes, anything else as gRPC's
// proto codec does (into a pooled buffer when large, as it does too).
func (c Codec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*Response)
	if !ok {
		return c.CodecV2.Marshal(v)
	}
	size := r.Size()
	if mem.IsBelowBufferPoolingThreshold(size) {
		return mem.BufferSlice{mem.SliceBuffer(r.AppendTo(make([]byte, 0, size)))}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	*buf = r.AppendTo((*buf)[:0])
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}
