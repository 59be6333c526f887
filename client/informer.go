package client

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/backoff"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Handler receives an informer's changes. Calls to one handler come in
// order and never two at once: from the informer's goroutine, or, for the
// adds that replay what the informer already holds when the handler is
// added, from AddHandler's caller. Keep them short (enqueue a key, update
// a counter) and never add or remove a handler from one: other handlers
// of a shared informer wait meanwhile. Any of the functions may be nil.
type Handler[T skiffv1.Resource] struct {
	OnAdd    func(obj T)
	OnUpdate func(old, obj T)
	OnDelete func(obj T)
}

// IndexFunc returns the index values an object is filed under.
type IndexFunc[T skiffv1.Resource] func(obj T) []string

// Informer keeps an in-memory copy of the objects of one kind: it lists, then
// watches from the listed revision, resumes a broken stream from the
// revision it reached, and lists again when that revision has been
// compacted. Objects it hands out are
// shared: never modify them, clone first (proto.Clone). Read through the
// API server's in-process reads (NewInformerFrom), they are the server's
// watch cache's own.
type Informer[T skiffv1.Resource] struct {
	kind skiffv1.Kind
	lw   ListerWatcher
	opts ListOptions
	log  *slog.Logger
	// pageSize is the chunk its lists are read in (client-go's
	// WatchListPageSize).
	pageSize int64

	// dispatch is held while a change is stored and its handlers told,
	// and while a handler is added (its replay) or removed: a handler
	// added late sees every object once, then every later change.
	dispatch sync.Mutex
	handlers []*registration[T]

	mu       sync.RWMutex
	items    map[string]T
	indexers map[string]IndexFunc[T]
	indices  map[string]map[string]map[string]struct{} // index → value → keys
	rv       string
	// pristine, when mutation checks are on, is each object as it came.
	pristine map[string][]byte

	syncOnce sync.Once
	synced   chan struct{}
}

// NewInformer makes an informer for the objects of res matching opts.
// Handlers and indexes may be added before or after Run.
func NewInformer[T skiffv1.Resource](res Resource[T], opts ListOptions, log *slog.Logger) *Informer[T] {
	return NewInformerFrom[T](grpcListerWatcher{res.c.api}, opts, log)
}

// NewInformerFrom is NewInformer reading the objects of the kind T
// through lw.
func NewInformerFrom[T skiffv1.Resource](lw ListerWatcher, opts ListOptions, log *slog.Logger) *Informer[T] {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var zero T
	kind := skiffv1.KindOf(zero)
	inf := &Informer[T]{
		kind: kind, lw: lw, opts: opts, log: log.With("informer", kind.String()), pageSize: DefaultChunkSize,
		items: map[string]T{}, indexers: map[string]IndexFunc[T]{},
		indices: map[string]map[string]map[string]struct{}{}, synced: make(chan struct{}),
	}
	if checkMutations {
		inf.pristine = map[string][]byte{}
	}
	return inf
}

// Key is how informers file an object: "namespace/name", or "name" for
// kinds outside namespaces.
func Key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// KeyOf is Key for an object.
func KeyOf(obj skiffv1.Resource) string {
	m := obj.GetMetadata()
	return Key(m.GetNamespace(), m.GetName())
}

// registration is one AddHandler's handler; removed is set under dispatch.
type registration[T skiffv1.Resource] struct {
	h       Handler[T]
	removed bool
}

// AddHandler registers h and returns what removes it. Added after Run
// has loaded objects, h is first told of each as an add (in this
// goroutine), then of every later change. Once remove returns, h is
// called no more.
func (inf *Informer[T]) AddHandler(h Handler[T]) (remove func()) {
	reg := &registration[T]{h: h}
	inf.dispatch.Lock()
	defer inf.dispatch.Unlock()
	inf.handlers = append(inf.handlers, reg)
	if h.OnAdd != nil {
		for _, obj := range inf.List() {
			h.OnAdd(obj)
		}
	}
	return func() {
		inf.dispatch.Lock()
		defer inf.dispatch.Unlock()
		if reg.removed {
			return
		}
		reg.removed = true
		kept := make([]*registration[T], 0, len(inf.handlers))
		for _, r := range inf.handlers {
			if r != reg {
				kept = append(kept, r)
			}
		}
		inf.handlers = kept
	}
}

// AddIndex registers an index, filing the objects already held too. A
// name may be registered once: two users of a shared informer that chose
// the same name get an error, not each other's index.
func (inf *Informer[T]) AddIndex(name string, fn IndexFunc[T]) error {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	if _, ok := inf.indexers[name]; ok {
		return fmt.Errorf("informer %s: index %q is already registered", inf.kind, name)
	}
	inf.indexers[name] = fn
	idx := map[string]map[string]struct{}{}
	inf.indices[name] = idx
	for k, obj := range inf.items {
		fileUnder(idx, fn(obj), k)
	}
	return nil
}

// removeIndex drops the index name (a shared informer's user that
// stopped).
func (inf *Informer[T]) removeIndex(name string) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	delete(inf.indexers, name)
	delete(inf.indices, name)
}

func fileUnder(idx map[string]map[string]struct{}, values []string, k string) {
	for _, v := range values {
		if idx[v] == nil {
			idx[v] = map[string]struct{}{}
		}
		idx[v][k] = struct{}{}
	}
}

// SetPageSize makes the informer list n objects at a time (0: in one
// request; DefaultChunkSize unless set). Every page is read at the first
// page's revision, from which the watch then starts. Call it before Run.
func (inf *Informer[T]) SetPageSize(n int64) { inf.pageSize = max(n, 0) }

// HasSynced reports whether the first list has been loaded.
func (inf *Informer[T]) HasSynced() bool {
	select {
	case <-inf.synced:
		return true
	default:
		return false
	}
}

// Synced is closed once the first list has been loaded.
func (inf *Informer[T]) Synced() <-chan struct{} { return inf.synced }

// WaitForSync blocks until the first list has been loaded or ctx ends.
func (inf *Informer[T]) WaitForSync(ctx context.Context) bool {
	select {
	case <-inf.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

// Get returns the cached object with this key.
func (inf *Informer[T]) Get(key string) (T, bool) {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	v, ok := inf.items[key]
	return v, ok
}

// List returns every cached object.
func (inf *Informer[T]) List() []T {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	out := make([]T, 0, len(inf.items))
	for _, v := range inf.items {
		out = append(out, v)
	}
	return out
}

// ByIndex returns the cached objects filed under value in the named index.
func (inf *Informer[T]) ByIndex(index, value string) []T {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	keys := inf.indices[index][value]
	out := make([]T, 0, len(keys))
	for k := range keys {
		out = append(out, inf.items[k])
	}
	return out
}

// ResourceVersion is the revision the cache reflects.
func (inf *Informer[T]) ResourceVersion() string {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	return inf.rv
}

// Run keeps the cache current until ctx ends. Run again after it returned,
// it resumes from the revision it had reached.
func (inf *Informer[T]) Run(ctx context.Context) error {
	retry := backoff.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}
	needList := !inf.HasSynced()
	for ctx.Err() == nil {
		if needList {
			if err := inf.relist(ctx); err != nil {
				inf.log.Debug("list failed", "err", err)
				retry.Wait(ctx)
				continue
			}
			needList = false
			retry.Reset()
		}
		delivered, err := inf.watch(ctx)
		if ctx.Err() != nil {
			break
		}
		if delivered {
			// The stream worked for a while: wait briefly, not as long as
			// after failures in a row.
			retry.Reset()
		}
		if IsCompacted(err) {
			inf.log.Debug("watch revision compacted; listing again", "rv", inf.ResourceVersion())
			needList = true
			continue
		}
		inf.log.Debug("watch ended; resuming", "err", err)
		retry.Wait(ctx)
	}
	inf.checkAllPristine()
	return nil
}

func (inf *Informer[T]) relist(ctx context.Context) error {
	items, rv, err := listAs[T](ctx, inf.lw, inf.kind, inf.opts, inf.pageSize)
	if err != nil {
		return err
	}
	fresh := make(map[string]T, len(items))
	for _, it := range items {
		fresh[KeyOf(it)] = it
	}
	type change struct {
		old, obj T
		kind     int // 0 add, 1 update, 2 delete
	}
	var changes []change
	inf.dispatch.Lock()
	defer inf.dispatch.Unlock()
	inf.mu.Lock()
	for k, old := range inf.items {
		if _, ok := fresh[k]; !ok {
			inf.removeLocked(k)
			changes = append(changes, change{obj: old, kind: 2})
		}
	}
	for k, obj := range fresh {
		old, had := inf.items[k]
		if had && old.GetMetadata().GetResourceVersion() == obj.GetMetadata().GetResourceVersion() {
			continue
		}
		inf.storeLocked(k, obj)
		if had {
			changes = append(changes, change{old: old, obj: obj, kind: 1})
		} else {
			changes = append(changes, change{obj: obj, kind: 0})
		}
	}
	inf.rv = rv
	inf.mu.Unlock()
	for _, c := range changes {
		switch c.kind {
		case 0:
			inf.notifyAdd(c.obj)
		case 1:
			inf.notifyUpdate(c.old, c.obj)
		case 2:
			inf.notifyDelete(c.obj)
		}
	}
	inf.syncOnce.Do(func() { close(inf.synced) })
	return nil
}

// watch follows the stream until it ends; delivered says whether any
// event came.
func (inf *Informer[T]) watch(ctx context.Context) (delivered bool, err error) {
	w, err := watchAs[T](ctx, inf.lw, inf.kind, inf.opts, inf.ResourceVersion())
	if err != nil {
		return false, err
	}
	defer w.Stop()
	for {
		ev, err := w.Next()
		if err != nil {
			return delivered, err
		}
		delivered = true
		inf.apply(ev)
	}
}

func (inf *Informer[T]) apply(ev Event[T]) {
	if ev.Type == skiffv1.WatchEvent_BOOKMARK {
		inf.mu.Lock()
		inf.rv = ev.ResourceVersion
		inf.mu.Unlock()
		return
	}
	k := KeyOf(ev.Object)
	inf.dispatch.Lock()
	defer inf.dispatch.Unlock()
	inf.mu.Lock()
	old, had := inf.items[k]
	if ev.Type == skiffv1.WatchEvent_DELETED {
		inf.removeLocked(k)
	} else {
		inf.storeLocked(k, ev.Object)
	}
	inf.rv = ev.ResourceVersion
	inf.mu.Unlock()
	switch {
	case ev.Type == skiffv1.WatchEvent_DELETED:
		if had {
			inf.notifyDelete(old)
		}
	case had:
		inf.notifyUpdate(old, ev.Object)
	default:
		inf.notifyAdd(ev.Object)
	}
}

func (inf *Informer[T]) storeLocked(k string, obj T) {
	if _, had := inf.items[k]; had {
		inf.removeLocked(k)
	}
	inf.items[k] = obj
	inf.keepPristineLocked(k, obj)
	for name, fn := range inf.indexers {
		fileUnder(inf.indices[name], fn(obj), k)
	}
}

func (inf *Informer[T]) removeLocked(k string) {
	old, ok := inf.items[k]
	if !ok {
		return
	}
	inf.checkPristineLocked(k, old)
	delete(inf.items, k)
	for name, fn := range inf.indexers {
		idx := inf.indices[name]
		for _, v := range fn(old) {
			delete(idx[v], k)
			if len(idx[v]) == 0 {
				delete(idx, v)
			}
		}
	}
}

// The notify functions run with dispatch held.

func (inf *Informer[T]) notifyAdd(obj T) {
	for _, r := range inf.handlers {
		if r.h.OnAdd != nil {
			r.h.OnAdd(obj)
		}
	}
}

func (inf *Informer[T]) notifyUpdate(old, obj T) {
	for _, r := range inf.handlers {
		if r.h.OnUpdate != nil {
			r.h.OnUpdate(old, obj)
		}
	}
}

func (inf *Informer[T]) notifyDelete(obj T) {
	for _, r := range inf.handlers {
		if r.h.OnDelete != nil {
			r.h.OnDelete(obj)
		}
	}
}
