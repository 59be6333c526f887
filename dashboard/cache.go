package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/skiff-sh/skiff/backoff"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// cache mirrors every kind the dashboard shows (all but Secrets and
// ConfigMaps, which it never shows) from list+watch, keeps each object's
// JSON ready to serve, and tells subscribers what changed.
type cache struct {
	c      *client.Client
	log    *slog.Logger
	now    func() time.Time
	runCtx context.Context

	start   sync.Once
	synced  chan struct{}
	pending sync.WaitGroup // kinds not yet listed once

	mu      sync.RWMutex
	kinds   map[skiffv1.Kind]*kindStore
	subs    map[*subscriber]struct{}
	history *history
}

type kindStore struct {
	info    skiffv1.KindInfo
	objects map[string]cached
}

type cached struct {
	obj  skiffv1.Resource
	json json.RawMessage
}

// change is what subscribers hear: an object of a kind changed.
type change struct {
	Kind      string `json:"kind"` // plural, "pods"
	Type      string `json:"type"` // ADDED, MODIFIED, DELETED, RESYNC
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// subscriber gets changes until it falls behind, then is dropped (the
// page reconnects and reloads what it shows).
type subscriber struct {
	ch     chan change
	lagged chan struct{}
}

const subscriberBuffer = 1024

// shownKinds leaves out Secrets and ConfigMaps (their data is not the
// page's to hold) and Leases: the nodes' heartbeats, renewed every few
// seconds by every node, are the nodes' Ready state on the page already.
func shownKinds() []skiffv1.KindInfo {
	var out []skiffv1.KindInfo
	for _, k := range skiffv1.Kinds() {
		if k.Kind == skiffv1.Kind_KIND_SECRET || k.Kind == skiffv1.Kind_KIND_CONFIG_MAP || k.Kind == skiffv1.Kind_KIND_LEASE {
			continue
		}
		out = append(out, k)
	}
	return out
}

func newCache(c *client.Client, log *slog.Logger, now func() time.Time) *cache {
	ca := &cache{c: c, log: log, now: now, synced: make(chan struct{}), kinds: map[skiffv1.Kind]*kindStore{}, subs: map[*subscriber]struct{}{}, history: newHistory(time.Hour)}
	for _, k := range shownKinds() {
		ca.kinds[k.Kind] = &kindStore{info: k, objects: map[string]cached{}}
	}
	return ca
}

// ensure starts the watches the first time it is called and waits until
// every kind was listed once (or ctx ends).
func (ca *cache) ensure(ctx context.Context) bool {
	ca.start.Do(func() {
		run := ca.runCtx
		if run == nil {
			run = context.Background()
		}
		ca.pending.Add(len(ca.kinds))
		for _, ks := range ca.kinds {
			go ca.follow(run, ks.info)
		}
		go func() { ca.pending.Wait(); close(ca.synced) }()
	})
	select {
	case <-ca.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

// follow lists a kind, then watches it from the listed revision, listing
// again when the watch's revision was compacted, until ctx ends.
func (ca *cache) follow(ctx context.Context, info skiffv1.KindInfo) {
	retry := backoff.Backoff{Base: 200 * time.Millisecond, Max: 10 * time.Second}
	first := true
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			var err error
			if rv, err = ca.relist(ctx, info); err != nil {
				ca.log.Debug("dashboard: list failed", "kind", info.Plural, "err", err)
				retry.Wait(ctx)
				continue
			}
			if first {
				first = false
				ca.pending.Done()
			}
		}
		var delivered bool
		var err error
		rv, delivered, err = ca.watch(ctx, info, rv)
		if ctx.Err() != nil {
			return
		}
		if delivered {
			retry.Reset()
		}
		if client.IsCompacted(err) {
			rv = ""
			continue
		}
		ca.log.Debug("dashboard: watch ended; resuming", "kind", info.Plural, "err", err)
		retry.Wait(ctx)
	}
}

func (ca *cache) relist(ctx context.Context, info skiffv1.KindInfo) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	items, rv, err := client.ListAll(lctx, ca.c.API(), &skiffv1.ListRequest{Kind: info.Kind}, client.DefaultChunkSize)
	if err != nil {
		return "", err
	}
	fresh := make(map[string]cached, len(items))
	for _, o := range items {
		obj := o.Unwrap()
		if obj == nil {
			continue
		}
		fresh[client.KeyOf(obj)] = toCached(obj)
		ca.history.observe(obj, ca.now())
	}
	ca.mu.Lock()
	ca.kinds[info.Kind].objects = fresh
	ca.mu.Unlock()
	ca.broadcast(change{Kind: info.Plural, Type: "RESYNC"})
	return rv, nil
}

func (ca *cache) watch(ctx context.Context, info skiffv1.KindInfo, rv string) (string, bool, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := ca.c.API().Watch(wctx, &skiffv1.WatchRequest{Kind: info.Kind, ResourceVersion: rv})
	if err != nil {
		return rv, false, err
	}
	delivered := false
	for {
		ev, err := stream.Recv()
		if err != nil {
			return rv, delivered, err
		}
		delivered = true
		rv = ev.GetResourceVersion()
		if ev.GetType() == skiffv1.WatchEvent_BOOKMARK {
			continue
		}
		obj := ev.GetObject().Unwrap()
		if obj == nil {
			continue
		}
		key := client.KeyOf(obj)
		ca.mu.Lock()
		if ev.GetType() == skiffv1.WatchEvent_DELETED {
			delete(ca.kinds[info.Kind].objects, key)
			ca.history.forget(key)
		} else {
			ca.kinds[info.Kind].objects[key] = toCached(obj)
		}
		ca.mu.Unlock()
		ca.history.observe(obj, ca.now())
		m := obj.GetMetadata()
		ca.broadcast(change{Kind: info.Plural, Type: ev.GetType().String(), Namespace: m.GetNamespace(), Name: m.GetName()})
	}
}

var jsonOptions = protojson.MarshalOptions{}

func toCached(obj skiffv1.Resource) cached {
	b, err := jsonOptions.Marshal(obj)
	if err != nil {
		b = []byte(`{}`)
	}
	return cached{obj: obj, json: b}
}

// list returns a kind's objects that pass keep, sorted by namespace and
// name.
func (ca *cache) list(kind skiffv1.Kind, keep func(skiffv1.Resource) bool) []cached {
	ca.mu.RLock()
	ks := ca.kinds[kind]
	var out []cached
	if ks != nil {
		for _, c := range ks.objects {
			if keep == nil || keep(c.obj) {
				out = append(out, c)
			}
		}
	}
	ca.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].obj.GetMetadata(), out[j].obj.GetMetadata()
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	return out
}

func (ca *cache) get(kind skiffv1.Kind, namespace, name string) (cached, bool) {
	ca.mu.RLock()
	defer ca.mu.RUnlock()
	ks := ca.kinds[kind]
	if ks == nil {
		return cached{}, false
	}
	c, ok := ks.objects[client.Key(namespace, name)]
	return c, ok
}

func (ca *cache) subscribe() *subscriber {
	s := &subscriber{ch: make(chan change, subscriberBuffer), lagged: make(chan struct{})}
	ca.mu.Lock()
	ca.subs[s] = struct{}{}
	ca.mu.Unlock()
	return s
}

func (ca *cache) unsubscribe(s *subscriber) {
	ca.mu.Lock()
	delete(ca.subs, s)
	ca.mu.Unlock()
}

func (ca *cache) broadcast(c change) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	for s := range ca.subs {
		select {
		case s.ch <- c:
		default:
			delete(ca.subs, s)
			close(s.lagged)
		}
	}
}
