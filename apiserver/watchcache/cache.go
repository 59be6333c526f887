package watchcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Defaults, as kube-apiserver sizes its watch cache: enough recent events
// that a client whose stream broke a moment ago resumes from memory.
const (
	DefaultCapacity         = 4096
	DefaultWatcherQueue     = 1024
	DefaultBookmarkInterval = time.Minute
)

var (
	// ErrTooSlow ends a watcher that fell more than its queue behind; the
	// client watches again from the last revision it received.
	ErrTooSlow = errors.New("watch: the client fell behind")
	// ErrStopped ends the watches of a cache that stopped (the server is
	// shutting down).
	ErrStopped = errors.New("watch cache stopped")
)

// Source is where the cache's events come from; *storage.Store is one.
type Source interface {
	// Watch streams the changes after revision after (0: from now), as
	// storage.Store.Watch.
	Watch(ctx context.Context, kind skiffv1.Kind, namespace string, after int64) <-chan storage.WatchEvent
	// CurrentRevision is etcd's newest revision.
	CurrentRevision(ctx context.Context) (int64, error)
	// Kept reports whether the history after a revision is still kept.
	Kept(ctx context.Context, after int64) (bool, error)
	// CompactedRevision is the newest revision compacted to, as far as
	// this server knows.
	CompactedRevision() int64
	// ListPage reads a page of a list from etcd, as storage.Store.ListPage.
	ListPage(ctx context.Context, kind skiffv1.Kind, namespace string, opts storage.ListOptions) (*storage.ListPage, error)
	// RequestProgress asks etcd to send every watch on the gRPC stream of
	// ctx's metadata a Progress event once it has sent them everything
	// before its current revision.
	RequestProgress(ctx context.Context) error
}

// Config tunes a cache; zero values get the defaults.
type Config struct {
	Source Source
	// Capacity is how many recent events each kind keeps.
	Capacity int
	// WatcherQueue is how many events a watcher may fall behind before it
	// is ended with ErrTooSlow.
	WatcherQueue int
	// BookmarkInterval is how often every watcher is told the revision
	// the kind has reached, so an idle or filtered watcher's revision
	// advances.
	BookmarkInterval time.Duration
	// ConsistentReadTimeout bounds how long a list waits for the cache to
	// reach etcd's current revision before it reads etcd instead.
	ConsistentReadTimeout time.Duration
	// SnapshotTTL is how long a paged list's snapshot is kept for its next
	// page after the last one read.
	SnapshotTTL time.Duration
	// Registerer receives the cache's metrics; nil means none.
	Registerer prometheus.Registerer
}

// Cache serves watches and lists of every kind. Make it with New, Run it, and call
// Watch from any goroutine.
type Cache struct {
	cfg     Config
	metrics *metrics
	ctx     context.Context // the kinds' etcd watches live within it
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	kinds   map[skiffv1.Kind]*kind
	stopped bool
}

// New makes a cache over cfg.Source. Nothing is watched until a client
// watches a kind.
func New(cfg Config) *Cache {
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.WatcherQueue <= 0 {
		cfg.WatcherQueue = DefaultWatcherQueue
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = DefaultBookmarkInterval
	}
	if cfg.ConsistentReadTimeout <= 0 {
		cfg.ConsistentReadTimeout = DefaultConsistentReadTimeout
	}
	if cfg.SnapshotTTL <= 0 {
		cfg.SnapshotTTL = DefaultSnapshotTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{cfg: cfg, metrics: newMetrics(cfg.Registerer), ctx: ctx, cancel: cancel, kinds: map[skiffv1.Kind]*kind{}}
}

// Run returns when ctx ends, after ending every kind's etcd watch and
// every cached watcher (with ErrStopped) and waiting for their goroutines.
func (c *Cache) Run(ctx context.Context) {
	<-ctx.Done()
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// Watch streams the changes to objects of a kind (in one namespace when
// set) made after revision after (0: from now), as storage.Store.Watch
// does. match, when set, skips changes that concern no object it accepts,
// before nor after; the caller still decides what such a change means to
// its client. The watch ends when ctx ends or Stop is called.
func (c *Cache) Watch(ctx context.Context, k skiffv1.Kind, namespace string, after int64, match func(skiffv1.Resource) bool) *Watcher {
	return c.WatchQueued(ctx, k, namespace, after, match, c.cfg.WatcherQueue)
}

// WatcherQueue is how many events a watcher may fall behind
// (Config.WatcherQueue).
func (c *Cache) WatcherQueue() int { return c.cfg.WatcherQueue }

// WatchQueued is Watch for a watcher that may fall queue events behind
// before it is ended with ErrTooSlow.
func (c *Cache) WatchQueued(ctx context.Context, k skiffv1.Kind, namespace string, after int64, match func(skiffv1.Resource) bool, queue int) *Watcher {
	if _, ok := skiffv1.Info(k); !ok || (after > 0 && after+1 < c.cfg.Source.CompactedRevision()) {
		// etcd says what is wrong with these.
		return c.direct(ctx, k, namespace, after)
	}
	if after == 0 {
		// From etcd's newest revision, not the cache's: a client that read
		// an object and then watches from now must not get older changes
		// the cache has yet to receive.
		rev, err := c.cfg.Source.CurrentRevision(ctx)
		if err != nil {
			return ended(err)
		}
		after = rev
	}
	// A kind whose etcd watch just ended is replaced: try again once.
	for range 2 {
		kc, err := c.kindFor(ctx, k, after)
		if err != nil {
			return ended(err)
		}
		w, err := kc.register(namespace, after, match, max(queue, 1))
		if err == errTooOld {
			return c.direct(ctx, k, namespace, after)
		}
		if err == nil {
			return w
		}
	}
	return c.direct(ctx, k, namespace, after)
}

func (c *Cache) direct(ctx context.Context, k skiffv1.Kind, namespace string, after int64) *Watcher {
	c.metrics.direct(k)
	return Direct(ctx, c.cfg.Source, k, namespace, after)
}

// kindFor returns the kind's cache once it is watching etcd, starting it
// (from after when that is still kept) if it is not.
func (c *Cache) kindFor(ctx context.Context, k skiffv1.Kind, after int64) (*kind, error) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil, ErrStopped
	}
	kc := c.kinds[k]
	if kc == nil {
		kc = newKind(c, k)
		c.kinds[k] = kc
		c.wg.Add(1)
		go kc.run(after)
	}
	c.mu.Unlock()
	select {
	case <-kc.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if kc.startErr != nil {
		return nil, kc.startErr
	}
	return kc, nil
}

// forget drops kc from the kinds once its etcd watch ended.
func (c *Cache) forget(kc *kind) {
	c.mu.Lock()
	if c.kinds[kc.kind] == kc {
		delete(c.kinds, kc.kind)
	}
	c.mu.Unlock()
}

func tooSlow(limit int) error {
	return fmt.Errorf("%w: more than %d events behind; watch again from the last revision received", ErrTooSlow, limit)
}

// Holds reports whether the cache serves lists and watches of kind from
// memory: every registered kind (others go to etcd, which refuses them).
func (c *Cache) Holds(k skiffv1.Kind) bool {
	_, ok := skiffv1.Info(k)
	return ok
}
