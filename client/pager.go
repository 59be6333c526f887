package client

import (
	"context"
	"errors"
	"fmt"

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

// ListEach reads every page of req as ListAll does, but hands each page's
// items to fn as it arrives, with the list's revision, and keeps none: a
// caller that prints a page and drops it holds one page at a time, as
// kubectl's chunked get does. The next page is asked for while fn runs.
//
// The pages already handed over cannot be taken back, so when a compaction
// expires the continue token half-way, the rest is read in one request at
// the current revision and fn gets the items after the last one it had
// (lists are in key order): the list then joins two revisions, as
// Kubernetes' inconsistent continue does, and fn is told the new one.
func ListEach(ctx context.Context, api skiffv1.ObjectsClient, req *skiffv1.ListRequest, chunk int64, fn func(items []*skiffv1.Object, rv string) error) error {
	r, err := firstPage(req, chunk)
	if err != nil {
		return err
	}
	lw := grpcListerWatcher{api}
	last := ""
	err = eachPage(ctx, lw, r, func(p listPage) error {
		if len(p.items) > 0 {
			last = KeyOf(p.items[len(p.items)-1].Unwrap())
		}
		return fn(p.items, p.rv)
	})
	if !errors.As(err, new(expiredHalfway)) {
		return err
	}
	r.Limit, r.Continue = 0, ""
	resp, err := listOnce(ctx, lw, r)
	if err != nil {
		return err
	}
	rest := resp.Items
	for len(rest) > 0 && KeyOf(rest[0].Unwrap()) <= last {
		rest = rest[1:]
	}
	return fn(rest, resp.ResourceVersion)
}

// listPages is ListAll through lw.
func listPages(ctx context.Context, lw ListerWatcher, req *skiffv1.ListRequest, chunk int64) ([]*skiffv1.Object, string, error) {
	r, err := firstPage(req, chunk)
	if err != nil {
		return nil, "", err
	}
	var items []*skiffv1.Object
	rv := ""
	err = eachPage(ctx, lw, r, func(p listPage) error {
		if items == nil {
			items = make([]*skiffv1.Object, 0, len(p.items)+int(p.remaining))
			rv = p.rv
		}
		items = append(items, p.items...)
		return nil
	})
	if errors.As(err, new(expiredHalfway)) {
		// Everything again, in one request.
		r.Limit, r.Continue = 0, ""
		resp, err := listOnce(ctx, lw, r)
		if err != nil {
			return nil, "", err
		}
		return resp.Items, resp.ResourceVersion, nil
	}
	if err != nil {
		return nil, "", err
	}
	if items == nil {
		items = []*skiffv1.Object{}
	}
	return items, rv, nil
}

// firstPage is req's first page of chunk items (0: all at once).
func firstPage(req *skiffv1.ListRequest, chunk int64) (*skiffv1.ListRequest, error) {
	if chunk < 0 {
		return nil, fmt.Errorf("client: chunk size %d is negative", chunk)
	}
	r := proto.Clone(req).(*skiffv1.ListRequest)
	r.Limit, r.Continue = chunk, ""
	return r, nil
}

// listPage is one page of a list: its items, the list's revision (the
// first page's) and how many items the server says are left after it.
type listPage struct {
	items     []*skiffv1.Object
	rv        string
	remaining int64
}

// expiredHalfway is a continue token that a compaction expired.
type expiredHalfway struct{ err error }

func (e expiredHalfway) Error() string { return e.err.Error() }
func (e expiredHalfway) Unwrap() error { return e.err }

// eachPage reads every page of r (whose Limit is set and Continue empty)
// and hands them to fn in order. A continue token that expired half-way
// is an expiredHalfway error.
func eachPage(ctx context.Context, lw ListerWatcher, r *skiffv1.ListRequest, fn func(listPage) error) error {
	if api, ok := wireAPI(lw); ok {
		return eachWirePage(ctx, api, r, fn)
	}
	rv := ""
	for first := true; ; first = false {
		resp, err := lw.List(ctx, r)
		if err != nil {
			if r.Continue != "" && IsCompacted(err) {
				return expiredHalfway{err}
			}
			return err
		}
		if first {
			rv = resp.ResourceVersion
		}
		if err := fn(listPage{items: resp.Items, rv: rv, remaining: resp.RemainingItemCount}); err != nil {
			return err
		}
		if resp.Continue == "" {
			return nil
		}
		r.Continue = resp.Continue
	}
}

// listOnce reads r in one request.
func listOnce(ctx context.Context, lw ListerWatcher, r *skiffv1.ListRequest) (*skiffv1.ListResponse, error) {
	api, ok := wireAPI(lw)
	if !ok {
		return lw.List(ctx, r)
	}
	p, err := api.listWire(ctx, r)
	if err != nil {
		return nil, err
	}
	return p.decode()
}

// wireAPI is lw's own gRPC Objects client, whose lists can be read as
// received (wirelist.go); not one a caller wrapped.
func wireAPI(lw ListerWatcher) (objectsAPI, bool) {
	g, ok := lw.(grpcListerWatcher)
	if !ok {
		return objectsAPI{}, false
	}
	api, ok := g.api.(objectsAPI)
	return api, ok
}

// eachWirePage is eachPage over gRPC, reading each page's bytes and
// asking for the next page while this one's items are decoded and handed
// over (see wirelist.go).
func eachWirePage(ctx context.Context, api objectsAPI, r *skiffv1.ListRequest, fn func(listPage) error) error {
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
	rv := ""
	next := fetch(r)
	for first := true; ; first = false {
		a := <-next
		if a.err != nil {
			if r.Continue != "" && IsCompacted(a.err) {
				return expiredHalfway{a.err}
			}
			return a.err
		}
		p := a.page
		if first {
			rv = p.rest.ResourceVersion
		}
		cont := p.rest.Continue
		if cont != "" {
			r = proto.Clone(r).(*skiffv1.ListRequest)
			r.Continue = cont
			next = fetch(r)
		}
		items := make([]*skiffv1.Object, len(p.items))
		err := decodeItems(p.items, items)
		p.free()
		if err != nil {
			return err
		}
		if err := fn(listPage{items: items, rv: rv, remaining: p.rest.RemainingItemCount}); err != nil {
			return err
		}
		if cont == "" {
			return nil
		}
	}
}
