package client

// A full list's time is mostly the client's: decoding 150,000 pods (38 MB
// of protobuf) and collecting the garbage, where the server, sending
// bytes its watch cache encoded once, spends a few milliseconds a page.
// So lists over gRPC read each page's bytes as they arrived and decode
// its items on every core (each item is a message of its own: decoded
// apart it is the same object), and ask for the next page while the
// items of this one are decoded.

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// objectsAPI is the generated Objects client with the connection under
// it, through which lists read their pages' bytes (listWire).
type objectsAPI struct {
	skiffv1.ObjectsClient
	conn grpc.ClientConnInterface
}

// itemsField is ListResponse.items' number, from its descriptor.
var itemsField = (&skiffv1.ListResponse{}).ProtoReflect().Descriptor().Fields().ByName("items").Number()

// wirePage is a ListResponse as received: its items' encodings, not yet
// decoded, and its other fields decoded.
type wirePage struct {
	// data holds items' bytes (a reference taken); freed once decoded.
	data mem.BufferSlice
	// items are the encodings of ListResponse.items, in order, within buf.
	items [][]byte
	// rest is the response without its items.
	rest *skiffv1.ListResponse
}

// parseListResponse splits b, a ListResponse's encoding, into its items'
// encodings and the other fields, decoded as proto.Unmarshal decodes them
// (the same errors for malformed input).
func parseListResponse(b []byte) ([][]byte, *skiffv1.ListResponse, error) {
	var items [][]byte
	var rest []byte
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, nil, fmt.Errorf("client: list response: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return nil, nil, fmt.Errorf("client: list response: %w", protowire.ParseError(m))
		}
		if num == itemsField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[off+n:])
			items = append(items, v)
		} else {
			rest = append(rest, b[off:off+n+m]...)
		}
		off += n + m
	}
	resp := new(skiffv1.ListResponse)
	if err := proto.Unmarshal(rest, resp); err != nil {
		return nil, nil, fmt.Errorf("client: list response: %w", err)
	}
	return items, resp, nil
}

// decodeItems decodes encoded items into objects, on up to GOMAXPROCS
// goroutines: each as proto.Unmarshal decodes ListResponse.items.
func decodeItems(items [][]byte, into []*skiffv1.Object) error {
	workers := min(runtime.GOMAXPROCS(0), (len(items)+255)/256)
	if workers <= 1 {
		return decodeRange(items, into)
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	per := (len(items) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(items))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = decodeRange(items[lo:hi], into[lo:hi])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeRange(items [][]byte, into []*skiffv1.Object) error {
	for i, b := range items {
		o := new(skiffv1.Object)
		if err := proto.Unmarshal(b, o); err != nil {
			return fmt.Errorf("client: list response: items[%d]: %w", i, err)
		}
		into[i] = o
	}
	return nil
}

// wireCodec is gRPC's proto codec, keeping a *wirePage's bytes.
type wireCodec struct{ encoding.CodecV2 }

var listCodec = grpc.ForceCodecV2(wireCodec{encoding.GetCodecV2(grpcproto.Name)})

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*wirePage)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	if items, rest, ok := splitBuffers(data); ok {
		resp := new(skiffv1.ListResponse)
		if err := proto.Unmarshal(rest, resp); err != nil {
			return fmt.Errorf("client: list response: %w", err)
		}
		// The items are slices of data, which gRPC frees on return.
		data.Ref()
		p.data, p.items, p.rest = data, items, resp
		return nil
	}
	// Not the usual shape: parsed whole, with proto.Unmarshal's errors.
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	items, rest, err := parseListResponse(buf.ReadOnlyData())
	if err != nil {
		buf.Free()
		return err
	}
	p.data, p.items, p.rest = mem.BufferSlice{buf}, items, rest
	return nil
}

// splitBuffers is parseListResponse over the buffers gRPC received a
// message in (frames of 16 KiB), without first copying them into one
// (38 MB for a list of 150,000 pods in one request): an item within one
// buffer is a slice of it, one across two is copied. It returns the
// items and the other fields' encoding, or ok false for anything but
// well-formed fields of the wire types a ListResponse has, which
// parseListResponse then judges.
func splitBuffers(data mem.BufferSlice) (items [][]byte, rest []byte, ok bool) {
	r := segments{bufs: make([][]byte, 0, len(data))}
	for _, b := range data {
		r.bufs = append(r.bufs, b.ReadOnlyData())
		r.left += b.Len()
	}
	var tagBuf [binary.MaxVarintLen64]byte
	for r.left > 0 {
		tag, raw, ok := r.varint()
		if !ok {
			return nil, nil, false
		}
		rawTag := tagBuf[:copy(tagBuf[:], raw)] // raw is reused by the next read
		num, typ := protowire.DecodeTag(tag)
		if !num.IsValid() {
			return nil, nil, false
		}
		switch typ {
		case protowire.BytesType:
			n, rawLen, ok := r.varint()
			if !ok || n > uint64(r.left) {
				return nil, nil, false
			}
			b := r.take(int(n))
			if num == itemsField {
				items = append(items, b)
			} else {
				rest = append(append(append(rest, rawTag...), rawLen...), b...)
			}
		case protowire.VarintType:
			_, raw, ok := r.varint()
			if !ok {
				return nil, nil, false
			}
			rest = append(append(rest, rawTag...), raw...)
		default:
			return nil, nil, false
		}
	}
	return items, rest, true
}

// segments reads across buffers.
type segments struct {
	bufs [][]byte // bufs[0] is read from
	left int      // bytes in bufs
	raw  [binary.MaxVarintLen64]byte
}

// varint reads a varint, returning it and its bytes (valid until the
// next call).
func (s *segments) varint() (uint64, []byte, bool) {
	n := 0
	for s.left > 0 && n < len(s.raw) {
		for len(s.bufs[0]) == 0 {
			s.bufs = s.bufs[1:]
		}
		c := s.bufs[0][0]
		s.bufs[0] = s.bufs[0][1:]
		s.left--
		s.raw[n] = c
		n++
		if c < 0x80 {
			v, m := protowire.ConsumeVarint(s.raw[:n])
			return v, s.raw[:n], m == n
		}
	}
	return 0, nil, false
}

// take reads n bytes (n <= s.left): a slice of a buffer when they are in
// one, else a copy.
func (s *segments) take(n int) []byte {
	for len(s.bufs) > 1 && len(s.bufs[0]) == 0 {
		s.bufs = s.bufs[1:]
	}
	s.left -= n
	if n <= len(s.bufs[0]) {
		b := s.bufs[0][:n:n]
		s.bufs[0] = s.bufs[0][n:]
		return b
	}
	b := make([]byte, 0, n)
	for len(b) < n {
		k := min(n-len(b), len(s.bufs[0]))
		b = append(b, s.bufs[0][:k]...)
		s.bufs[0] = s.bufs[0][k:]
		if len(s.bufs[0]) == 0 && len(b) < n {
			s.bufs = s.bufs[1:]
		}
	}
	return b
}

// listWire reads a page of req as received, items not yet decoded.
func (a objectsAPI) listWire(ctx context.Context, req *skiffv1.ListRequest, opts ...grpc.CallOption) (*wirePage, error) {
	p := new(wirePage)
	if err := a.conn.Invoke(ctx, skiffv1.Objects_List_FullMethodName, req, p, append(opts, listCodec)...); err != nil {
		return nil, err
	}
	return p, nil
}

// decode turns p into the ListResponse it encodes, and frees its bytes.
func (p *wirePage) decode() (*skiffv1.ListResponse, error) {
	defer p.free()
	resp := p.rest
	resp.Items = make([]*skiffv1.Object, len(p.items))
	if err := decodeItems(p.items, resp.Items); err != nil {
		return nil, err
	}
	return resp, nil
}

func (p *wirePage) free() {
	if p.data != nil {
		p.data.Free()
		p.data, p.items = nil, nil
	}
}
