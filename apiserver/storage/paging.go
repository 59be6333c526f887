package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// ListOptions page a list as Kubernetes' limit and continue do.
type ListOptions struct {
	// Limit caps the items of one page; 0 reads every remaining one.
	Limit int64
	// Continue is the token of the previous page.
	Continue string
	// Match keeps the objects a selector selects; nil keeps all.
	Match func(skiffv1.Resource) bool
	// Selector names Match (the label and field selectors as the client
	// sent them): a token continues only the list it came from.
	Selector string
	// Revision, without Continue, reads the first page at that revision
	// instead of the newest (the watch cache fills itself so); ErrCompacted
	// when it is no longer kept.
	Revision int64
}

// ListPage is one page of a list.
type ListPage struct {
	Items []skiffv1.Resource
	// Encoded, when set, is Items encoded as the items of a
	// skiffv1.ListResponse (listwire.EncodeItem), to send as they are;
	// the watch cache keeps them. Lists read from etcd leave it nil.
	Encoded [][]byte
	// Revision is the one every page of the list is read at: the first's.
	Revision int64
	// Continue, when set, reads the next page.
	Continue string
	// RemainingItemCount is how many objects the later pages hold; only
	// known without Match, and 0 on the last page.
	RemainingItemCount int64
}

// Paging errors. ErrContinueExpired wraps ErrCompacted, so a client that
// handles a compacted watch by listing again does the same here.
var (
	ErrBadContinue     = errors.New("continue: the token is not one of this list")
	ErrContinueExpired = fmt.Errorf("%w: the continue token's revision is no longer kept", ErrCompacted)
)

// maxChunk bounds how many keys a filtered page reads from etcd at once
// while it looks for limit matches (kube-apiserver's bound too).
const maxChunk = 10000

// continueVersion marks the token's layout, so a later one can change it.
const continueVersion = "skiff/v1"

// continueToken is the state of a paged list the client carries between
// pages: opaque to it, base64 JSON as Kubernetes' is.
type continueToken struct {
	Version  string `json:"v"`
	Revision int64  `json:"rv"`
	// Start is the key the next page begins at, after the list's prefix.
	Start     string `json:"start"`
	Kind      string `json:"kind"`
	Namespace string `json:"ns,omitempty"`
	Selector  string `json:"sel,omitempty"`
}

func encodeContinue(t continueToken) string {
	data, _ := json.Marshal(t) // strings and a number: cannot fail
	return base64.RawURLEncoding.EncodeToString(data)
}

// decodeContinue reads a token; any malformation is ErrBadContinue.
func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, fmt.Errorf("%w: not base64 (%v)", ErrBadContinue, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("%w: %v", ErrBadContinue, err)
	}
	if dec.More() {
		return t, fmt.Errorf("%w: data after the token", ErrBadContinue)
	}
	switch {
	case t.Version != continueVersion:
		return t, fmt.Errorf("%w: version %q, want %q", ErrBadContinue, t.Version, continueVersion)
	case t.Revision <= 0:
		return t, fmt.Errorf("%w: revision %d", ErrBadContinue, t.Revision)
	case t.Start == "":
		return t, fmt.Errorf("%w: no start key", ErrBadContinue)
	}
	return t, nil
}

// ParseContinue reads the continue token of a list of a kind in a
// namespace ("" for all, or a kind without namespaces) with the selectors
// selector: the revision the list is read at and the key, after the
// list's prefix (namespace/name, or name within a namespace), its next
// page starts at. A malformed token or one of another list is
// ErrBadContinue. The watch cache reads the same tokens, so a token
// continues its list whichever path answers the next page.
func ParseContinue(tok string, info skiffv1.KindInfo, namespace, selector string) (rev int64, start string, err error) {
	t, err := decodeContinue(tok)
	if err != nil {
		return 0, "", err
	}
	if t.Kind != info.Plural || t.Namespace != namespace || t.Selector != selectorID(selector) {
		return 0, "", fmt.Errorf("%w: it continues a list of %s in namespace %q with other selectors or another kind or namespace; send the same kind, namespace and selectors, or no continue", ErrBadContinue, t.Kind, t.Namespace)
	}
	return t.Revision, t.Start, nil
}

// NewContinue makes the token of the page after one of a list read at rev,
// starting at start (after the list's prefix, as ParseContinue returns).
func NewContinue(info skiffv1.KindInfo, namespace, selector string, rev int64, start string) string {
	return encodeContinue(continueToken{
		Version: continueVersion, Revision: rev, Start: start,
		Kind: info.Plural, Namespace: namespace, Selector: selectorID(selector),
	})
}

// selectorID is the short form of a selector a token records.
func selectorID(sel string) string {
	if sel == "" {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(sel))
	return strconv.FormatUint(h.Sum64(), 36)
}

// ListPage reads one page of the objects of a kind (in one namespace when
// set). The first page is read at etcd's newest revision and every later
// one at that same revision, so the pages together are one consistent
// snapshot; a continue token whose revision was compacted since is
// ErrContinueExpired, and the client starts again. With Match, objects
// are filtered after reading, as the kube-apiserver does: a page may hold
// fewer than Limit items with Continue set, but further chunks are read
// until Limit matches are found or the range ends, so no page is empty
// only because its first chunk matched nothing.
func (s *Store) ListPage(ctx context.Context, kind skiffv1.Kind, namespace string, opts ListOptions) (*ListPage, error) {
	info, ok := skiffv1.Info(kind)
	if !ok {
		return nil, fmt.Errorf("storage: unknown kind %v", kind)
	}
	if opts.Limit < 0 {
		return nil, fmt.Errorf("storage: limit %d is negative", opts.Limit)
	}
	if !info.Namespaced {
		namespace = ""
	}
	prefix := prefixKey(info, namespace)
	key, rev := prefix, max(opts.Revision, 0)
	if opts.Continue != "" {
		r, start, err := ParseContinue(opts.Continue, info, namespace, opts.Selector)
		if err != nil {
			return nil, err
		}
		key, rev = prefix+start, r
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	paging := opts.Limit > 0
	chunk := opts.Limit
	page := &ListPage{Revision: rev}
	var lastKey []byte
	for {
		resp, err := s.listChunk(ctx, key, end, page.Revision, chunk)
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				if opts.Continue != "" {
					return nil, ErrContinueExpired
				}
				return nil, fmt.Errorf("%w: revision %d", ErrCompacted, page.Revision)
			}
			if errors.Is(err, rpctypes.ErrFutureRev) && opts.Continue != "" {
				return nil, fmt.Errorf("%w: revision %d is newer than etcd's", ErrBadContinue, page.Revision)
			}
			return nil, fmt.Errorf("storage: list: %w", err)
		}
		if page.Revision == 0 {
			page.Revision = resp.Header.Revision
		}
		more := resp.More
		if page.Items == nil {
			page.Items = make([]skiffv1.Resource, 0, len(resp.Kvs))
		}
		for _, kv := range resp.Kvs {
			if paging && int64(len(page.Items)) >= opts.Limit {
				more = true
				break
			}
			lastKey = kv.Key
			obj, err := s.decode(info, kv.Key, kv.Value, kv.ModRevision)
			if err != nil {
				return nil, err
			}
			if opts.Match == nil || opts.Match(obj) {
				page.Items = append(page.Items, obj)
			}
		}
		if !paging || !more || int64(len(page.Items)) >= opts.Limit {
			if more {
				page.Continue = NewContinue(info, namespace, opts.Selector, page.Revision, strings.TrimPrefix(string(lastKey), prefix)+"\x00")
				if opts.Match == nil {
					page.RemainingItemCount = resp.Count - int64(len(resp.Kvs))
				}
			}
			return page, nil
		}
		// A filtered chunk came up short: read on from after its last key,
		// in growing chunks.
		key = string(lastKey) + "\x00"
		chunk = min(2*chunk, max(maxChunk, opts.Limit))
	}
}

// listChunk reads up to limit (0: every) keys of [key, end) at rev (0:
// newest), with its own timeout.
func (s *Store) listChunk(ctx context.Context, key, end string, rev, limit int64) (*clientv3.GetResponse, error) {
	ops := []clientv3.OpOption{clientv3.WithRange(end)}
	if rev > 0 {
		ops = append(ops, clientv3.WithRev(rev))
	}
	if limit > 0 {
		ops = append(ops, clientv3.WithLimit(limit))
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	start := time.Now()
	resp, err := s.etcd.Get(ctx, key, append(ops, s.readOpts...)...)
	if err == nil && rev == 0 && s.readBehind(resp.Header.Revision, 0) {
		resp, err = s.etcd.Get(ctx, key, ops...) // linearizable
	}
	s.metrics.observe("list", start)
	return resp, err
}
