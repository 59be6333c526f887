// Package slimlist reads list pages for tables: the pods of a page arrive
// holding only the fields a pod table prints, dropped from the wire bytes
// before they are decoded.
//
// Decoding is most of what `skiff get pods -A` spends at scale: every
// pod's labels and annotations, its containers' images, commands,
// variables, resources and probes, its volumes, each an allocation, for a
// row that shows five columns. Skipping bytes costs next to nothing.
package slimlist

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Pods wraps api so that its List answers with pods slimmed to what a pod
// table prints (with their labels when withLabels: -L, --show-labels).
// Other kinds, and every other call, are as api gives them.
func Pods(api skiffv1.ObjectsClient, withLabels bool) skiffv1.ObjectsClient {
	return slimLists{api, grpc.ForceCodecV2(codec{listOf(podRows(withLabels))})}
}

type slimLists struct {
	skiffv1.ObjectsClient
	codec grpc.CallOption
}

func (s slimLists) List(ctx context.Context, req *skiffv1.ListRequest, opts ...grpc.CallOption) (*skiffv1.ListResponse, error) {
	return s.ObjectsClient.List(ctx, req, append(opts, s.codec)...)
}

// shape says what of a message to keep: with only, the fields named and
// nothing else, else every field; a named field with a shape of its own
// (a message) keeps what that shape says of it, one with nil all of it.
type shape struct {
	only   bool
	fields map[string]*shape
}

func only(fields map[string]*shape) *shape { return &shape{only: true, fields: fields} }
func all(fields map[string]*shape) *shape  { return &shape{fields: fields} }

// podRows is what the pod table reads (READY, STATUS, RESTARTS, AGE, IP,
// NODE, label columns) and what the pager reads (namespace and name).
func podRows(withLabels bool) *shape {
	meta := map[string]*shape{"name": nil, "namespace": nil, "creation_timestamp": nil, "deletion_timestamp": nil}
	if withLabels {
		meta["labels"] = nil
	}
	containerStatus := only(map[string]*shape{"ready": nil, "restart_count": nil, "started": nil,
		"state": only(map[string]*shape{
			"waiting":    only(map[string]*shape{"reason": nil}),
			"running":    only(nil),
			"terminated": only(map[string]*shape{"reason": nil, "exit_code": nil, "signal": nil}),
		})})
	return all(map[string]*shape{
		"metadata": only(meta),
		"spec": only(map[string]*shape{"node_name": nil,
			"containers":      only(map[string]*shape{"name": nil}),
			"init_containers": only(map[string]*shape{"name": nil, "restart_policy": nil}),
		}),
		"status": only(map[string]*shape{"phase": nil, "reason": nil, "pod_ip": nil,
			"conditions":              only(map[string]*shape{"type": nil, "status": nil}),
			"container_statuses":      containerStatus,
			"init_container_statuses": containerStatus,
		}),
	})
}

// listOf is a ListResponse whose pods have pod's shape.
func listOf(pod *shape) *keep {
	return compile((&skiffv1.ListResponse{}).ProtoReflect().Descriptor(), all(map[string]*shape{
		"items": all(map[string]*shape{"pod": pod}),
	}))
}

// keep is a shape by field number.
type keep struct {
	only   bool
	fields map[protowire.Number]*keep
}

// compile resolves s's names in md; a name md does not have is a bug here.
func compile(md protoreflect.MessageDescriptor, s *shape) *keep {
	if s == nil {
		return nil
	}
	k := &keep{only: s.only, fields: map[protowire.Number]*keep{}}
	for name, sub := range s.fields {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			panic(fmt.Sprintf("slimlist: %s has no field %q", md.FullName(), name))
		}
		if sub != nil && fd.Message() == nil {
			panic(fmt.Sprintf("slimlist: %s.%s is not a message", md.FullName(), name))
		}
		k.fields[fd.Number()] = compile(fd.Message(), sub)
	}
	return k
}

// slim appends to out the fields of the message b that k keeps.
func slim(out, b []byte, k *keep) ([]byte, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		field := b[:n+m]
		b = b[n+m:]
		sub, named := k.fields[num]
		switch {
		case !named && k.only:
			continue
		case sub == nil || typ != protowire.BytesType:
			out = append(out, field...)
			continue
		}
		inner, _ := protowire.ConsumeBytes(field[n:])
		// The slimmed message goes behind a one-byte length that is
		// widened afterwards if it must be.
		out = protowire.AppendTag(out, num, protowire.BytesType)
		at := len(out)
		out = append(out, 0)
		var err error
		if out, err = slim(out, inner, sub); err != nil {
			return nil, err
		}
		size := len(out) - at - 1
		if w := protowire.SizeVarint(uint64(size)); w > 1 {
			out = append(out, make([]byte, w-1)...)
			copy(out[at+w:], out[at+1:at+1+size])
		}
		protowire.AppendVarint(out[:at], uint64(size))
	}
	return out, nil
}

// codec is gRPC's proto codec but for what it decodes, which it slims by
// its keep first.
type codec struct{ keep *keep }

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	return encoding.GetCodecV2("proto").Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	msg, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("slimlist: cannot decode into %T", v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return decode(buf.ReadOnlyData(), msg, c.keep)
}

// DecodeList decodes the wire bytes of a ListResponse into resp, its pods
// slimmed as Pods' are.
func DecodeList(b []byte, resp *skiffv1.ListResponse, withLabels bool) error {
	return decode(b, resp, listOf(podRows(withLabels)))
}

func decode(b []byte, msg proto.Message, k *keep) error {
	b, err := slim(make([]byte, 0, len(b)), b, k)
	if err != nil {
		return fmt.Errorf("slimlist: %w", err)
	}
	return proto.Unmarshal(b, msg)
}
