package client

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// DefaultChunkSize is how many items a list asks for at a time. A huge
// list then travels in messages of bounded size, and the server never
// holds all of it at once. kubectl and client-go ask for 500, but a page
// read from etcd costs time in proportion to every key after it (etcd
// counts them): 150,000 pods in pages of 500 took 84 s (bench/scale),
// where one read takes a few seconds. Pages of 10,000 keep that cost
// small and a page of ordinary pods to a few MB.
const DefaultChunkSize = 10000

// ListAll reads every page of req (whose Limit and Continue it sets), chunk
// items at a time; chunk 0 reads all in one request. Every page is read at
// the first page's revision, which it returns: a watch from there misses
// nothing. When a compaction expires the continue token half-way, it reads
// the whole list again in one request, as client-go's pager does, rather
// than join pages of two revisions.
func ListAll(ctx context.Context, api skiffv1.ObjectsClient, req *skiffv1.ListRequest, chunk int64) ([]*skiffv1.Object, string, error) {
	return listPages(ctx, grpcListerWatcher{api}, req, chunk)
}

// listPages is ListAll through lw.
func listPages(ctx context.Context, lw ListerWatcher, req *skiffv1.ListRequest, chunk int64) ([]*skiffv1.Object, string, error) {
	if chunk < 0 {
		return nil, "", fmt.Errorf("client: chunk size %d is negative", chunk)
	}
	r := proto.Clone(req).(*skiffv1.ListRequest)
	r.Limit, r.Continue = chunk, ""
	if g, ok := lw.(grpcListerWatcher); ok {
		if api, ok := g.api.(objectsAPI); ok {
			return listWirePages(ctx, api, r)
		}
	}
	var items []*skiffv1.Object
	rv := ""
	for {
		resp, err := lw.List(ctx, r)
		if err != nil {
			if r.Continue != "" && IsCompacted(err) {
				r.Limit, r.Continue = 0, ""
				resp, err = lw.List(ctx, r)
				if err != nil {
					return nil, "", err
				}
				return resp.Items, resp.ResourceVersion, nil
			}
			return nil, "", err
		}
		if items == nil {
			items = make([]*skiffv1.Object, 0, len(resp.Items)+int(resp.RemainingItemCount))
			rv = resp.ResourceVersion
		}
		items = append(items, resp.Items...)
		if resp.Continue == "" {
			return items, rv, nil
		}
		r.Continue = resp.Continue
	}
}

// listWirePages is listPages over gRPC, reading each page's bytes and
// asking for the next page while this one's items are decoded (see
// wirelist.go). r is the first page's request.
func listWirePages(ctx context.Context, api objectsAPI, r *skiffv1.ListRequest) ([]*skiffv1.Object, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a page asked for and not needed
	type answer struct {
		page *wirePage
		err  error
	}
	fetch := func(req *skiffv1.ListRequest) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			p, err := api.listWire(ctx, req)
			ch <- answer{p, err}
		}()
		return ch
	}
	var items []*skiffv1.Object
	rv := ""
	next := fetch(r)
	for {
		a := <-next
		if a.err != nil {
			if r.Continue != "" && IsCompacted(a.err) {
				// Expired half-way: everything again in one request.
				one := proto.Clone(r).(*skiffv1.ListRequest)
				one.Limit, one.Continue = 0, ""
				p, err := api.listWire(ctx, one)
				if err != nil {
					return nil, "", err
				}
				resp, err := p.decode()
				if err != nil {
					return nil, "", err
				}
				return resp.Items, resp.ResourceVersion, nil
			}
			return nil, "", a.err
		}
		p := a.page
		if items == nil {
			items = make([]*skiffv1.Object, 0, len(p.items)+int(p.rest.RemainingItemCount))
			rv = p.rest.ResourceVersion
		}
		cont := p.rest.Continue
		if cont != "" {
			r = proto.Clone(r).(*skiffv1.ListRequest)
			r.Continue = cont
			next = fetch(r)
		}
		start := len(items)
		items = slices.Grow(items, len(p.items))[:start+len(p.items)]
		err := decodeItems(p.items, items[start:])
		p.free()
		if err != nil {
			return nil, "", err
		}
		if cont == "" {
			return items, rv, nil
		}
	}
}
