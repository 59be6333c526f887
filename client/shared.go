package client

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// SharedInformers hands every component of a process the same informer
// for a kind and list options (Kubernetes' SharedInformerFactory), so
// the process holds each object once however many components read it.
// Components take their informers through a scope of their own
// (NewScope): an informer runs while any scope holds it, so a
// leader-elected component that stops lets go of what only it used, and
// one that starts later is told of every object already held.
type SharedInformers struct {
	c   *Client
	log *slog.Logger
	// local, when set, is read instead of c for the kinds it serves.
	local       ListerWatcher
	localServes func(skiffv1.Kind) bool

	mu      sync.Mutex
	entries map[informerKey]*sharedEntry
	// keep: an informer no scope holds any more runs on until Stop.
	keep bool
}

type informerKey struct {
	kind skiffv1.Kind
	opts ListOptions
}

// sharedEntry is one running (or not yet started) informer and its scopes.
type sharedEntry struct {
	inf     any // *Informer[T] of the key's kind
	run     func(context.Context) error
	users   int
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewSharedInformers makes an empty set whose informers read through c.
func NewSharedInformers(c *Client, log *slog.Logger) *SharedInformers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SharedInformers{c: c, log: log, entries: map[informerKey]*sharedEntry{}}
}

// NewSharedInformersFrom is NewSharedInformers whose informers of the
// kinds serves accepts read through local instead of c: in the API
// server's own process, its in-process reads (apiserver.InProcessReads),
// so the informers hold the watch cache's objects rather than a second
// copy of every object. Informers of other kinds read through c.
func NewSharedInformersFrom(c *Client, local ListerWatcher, serves func(skiffv1.Kind) bool, log *slog.Logger) *SharedInformers {
	s := NewSharedInformers(c, log)
	s.local, s.localServes = local, serves
	return s
}

// source is what the set's informers of kind read through.
func (s *SharedInformers) source(kind skiffv1.Kind) ListerWatcher {
	if s.local != nil && s.localServes(kind) {
		return s.local
	}
	return grpcListerWatcher{s.c.api}
}

// SharedOrOwn is set, or, when it is nil (a component that runs alone in
// its process), a set of the component's own reading through c.
func SharedOrOwn(set *SharedInformers, c *Client, log *slog.Logger) *SharedInformers {
	if set != nil {
		return set
	}
	return NewSharedInformers(c, log)
}

// InformerScope is one component's use of a SharedInformers: the
// informers it took, the handlers and indexes it added. Close gives them
// back.
type InformerScope struct {
	set *SharedInformers

	mu       sync.Mutex
	closed   bool
	entries  []*sharedEntry
	keys     []informerKey
	undo     []func() // handlers and indexes to remove, in order added
	startReq bool
}

// KeepRunning makes the set's informers, once started, run until Stop
// even when no scope holds them: a leader-elected component that loses
// its lease and wins it back then finds every object held, where it would
// otherwise list them all again (at scale, the load that made it lose
// the lease in the first place).
func (s *SharedInformers) KeepRunning() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keep = true
}

// Stop stops the informers no scope holds (those KeepRunning kept) and
// waits for them; later ones stop with their last scope again.
func (s *SharedInformers) Stop() {
	s.mu.Lock()
	s.keep = false
	var stopped []*sharedEntry
	for key, e := range s.entries {
		if e.users == 0 {
			delete(s.entries, key)
			if e.started {
				e.cancel()
				stopped = append(stopped, e)
			}
		}
	}
	s.mu.Unlock()
	for _, e := range stopped {
		<-e.done
	}
}

// NewScope starts a component's use of the set.
func (s *SharedInformers) NewScope() *InformerScope { return &InformerScope{set: s} }

// SharedInformer is a component's view of a shared informer: reads go to
// the shared cache; handlers and indexes it adds are its scope's, removed
// when the scope closes. Objects it hands out are shared: never modify
// them, clone first (proto.Clone).
type SharedInformer[T skiffv1.Resource] struct {
	inf   *Informer[T]
	scope *InformerScope
}

// Inform returns scope's view of the set's informer for the kind of res
// (a method of Client such as (*Client).Pods) and opts, making it if the
// process has none. It starts with the scope's Start. A closed scope
// gets an informer that never runs.
func Inform[T skiffv1.Resource](scope *InformerScope, res func(*Client) Resource[T], opts ListOptions) *SharedInformer[T] {
	s := scope.set
	r := res(s.c)
	lw := s.source(r.kind)
	// scope.mu is held throughout so Close cannot come between; it is
	// always taken before s.mu.
	scope.mu.Lock()
	if scope.closed {
		scope.mu.Unlock()
		return &SharedInformer[T]{inf: NewInformerFrom[T](lw, opts, s.log), scope: scope}
	}
	key := informerKey{kind: r.kind, opts: opts}
	s.mu.Lock()
	e, ok := s.entries[key]
	if !ok {
		inf := NewInformerFrom[T](lw, opts, s.log)
		e = &sharedEntry{inf: inf, run: inf.Run}
		s.entries[key] = e
	}
	e.users++
	s.mu.Unlock()
	scope.entries = append(scope.entries, e)
	scope.keys = append(scope.keys, key)
	started := scope.startReq
	scope.mu.Unlock()
	if started {
		s.start(e)
	}
	return &SharedInformer[T]{inf: e.inf.(*Informer[T]), scope: scope}
}

// Start runs every informer the scope took that is not running yet; ones
// taken later start at once.
func (sc *InformerScope) Start() {
	sc.mu.Lock()
	sc.startReq = true
	entries := append([]*sharedEntry(nil), sc.entries...)
	sc.mu.Unlock()
	for _, e := range entries {
		sc.set.start(e)
	}
}

func (s *SharedInformers) start(e *sharedEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.started || e.users == 0 {
		return
	}
	e.started = true
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		_ = e.run(ctx)
	}()
}

// Close removes the scope's handlers and indexes and lets go of its
// informers; an informer no scope holds any more stops (Close waits for
// it) and is dropped, so the next user lists afresh, unless the set keeps
// its informers running.
func (sc *InformerScope) Close() {
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return
	}
	sc.closed = true
	undo, entries, keys := sc.undo, sc.entries, sc.keys
	sc.undo, sc.entries, sc.keys = nil, nil, nil
	sc.mu.Unlock()
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
	s := sc.set
	var stopped []*sharedEntry
	s.mu.Lock()
	for i, e := range entries {
		e.users--
		if e.users > 0 || (s.keep && e.started) {
			continue
		}
		if s.entries[keys[i]] == e {
			delete(s.entries, keys[i])
		}
		if e.started {
			e.cancel()
			stopped = append(stopped, e)
		}
	}
	s.mu.Unlock()
	for _, e := range stopped {
		<-e.done
	}
}

func (sc *InformerScope) track(undo func()) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return fmt.Errorf("informer scope closed")
	}
	sc.undo = append(sc.undo, undo)
	return nil
}

// AddHandler registers h until the scope closes; see Informer.AddHandler
// (a handler added once objects are held is told of each as an add).
func (si *SharedInformer[T]) AddHandler(h Handler[T]) {
	remove := si.inf.AddHandler(h)
	if si.scope.track(remove) != nil {
		remove()
	}
}

// AddIndex registers an index until the scope closes. Index names are
// the informer's, shared by every scope: a name another component
// registered is an error.
func (si *SharedInformer[T]) AddIndex(name string, fn IndexFunc[T]) error {
	if err := si.inf.AddIndex(name, fn); err != nil {
		return err
	}
	if err := si.scope.track(func() { si.inf.removeIndex(name) }); err != nil {
		si.inf.removeIndex(name)
		return err
	}
	return nil
}

// Get returns the cached object with this key.
func (si *SharedInformer[T]) Get(key string) (T, bool) { return si.inf.Get(key) }

// List returns every cached object.
func (si *SharedInformer[T]) List() []T { return si.inf.List() }

// ByIndex returns the cached objects filed under value in the named index.
func (si *SharedInformer[T]) ByIndex(index, value string) []T { return si.inf.ByIndex(index, value) }

// HasSynced reports whether the first list has been loaded.
func (si *SharedInformer[T]) HasSynced() bool { return si.inf.HasSynced() }

// Synced is closed once the first list has been loaded.
func (si *SharedInformer[T]) Synced() <-chan struct{} { return si.inf.Synced() }

// WaitForSync blocks until the first list has been loaded or ctx ends.
func (si *SharedInformer[T]) WaitForSync(ctx context.Context) bool {
	return si.inf.WaitForSync(ctx)
}

// ResourceVersion is the revision the cache reflects.
func (si *SharedInformer[T]) ResourceVersion() string { return si.inf.ResourceVersion() }
