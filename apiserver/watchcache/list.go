package watchcache

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Defaults for lists, as kube-apiserver's consistent reads from cache.
const (
	// DefaultConsistentReadTimeout bounds the wait for the cache to reach
	// etcd's revision before a list is read from etcd instead.
	DefaultConsistentReadTimeout = 3 * time.Second
	// DefaultSnapshotTTL is how long a paged list's snapshot is kept after
	// its last page was read; a later page is read from etcd.
	DefaultSnapshotTTL = time.Minute
	// maxSnapshots bounds the snapshots a kind keeps: each may hold on to
	// chunks the store has since replaced.
	maxSnapshots = 32
	// progressEvery spaces the progress requests of waiting lists.
	progressEvery = 50 * time.Millisecond
)

// heldSnapshot is a paged list's snapshot, kept for its later pages.
type heldSnapshot struct {
	snap    *snapshot
	expires time.Time
}

// ListPage reads a page of a list as storage.Store.ListPage does, with the
// same results, order, tokens and errors, from memory when it can. A list
// without a continue token is consistent: it is read once the cache has
// seen etcd's revision at the time of the call (etcd is asked for a
// progress notification, so an idle kind catches up without a write), or
// from etcd at that revision when that takes longer than
// ConsistentReadTimeout. A page after the first is read from the snapshot
// at the token's revision while it is kept (SnapshotTTL), else from etcd
// at that revision. A first page read from etcd has its snapshot taken as
// the cache passes its revision (a later page waits up to
// ConsistentReadTimeout for it): one slow first page does not send every
// page of a large list to etcd.
func (c *Cache) ListPage(ctx context.Context, k skiffv1.Kind, namespace string, opts storage.ListOptions) (*storage.ListPage, error) {
	info, ok := skiffv1.Info(k)
	if !ok || opts.Limit < 0 || opts.Revision != 0 {
		return c.cfg.Source.ListPage(ctx, k, namespace, opts)
	}
	if !info.Namespaced {
		namespace = ""
	}
	if opts.Continue != "" {
		return c.continueList(ctx, info, namespace, opts)
	}
	kc, rev, err := c.consistent(ctx, k)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.metrics.fallback(k, "not_current")
		if kc == nil || rev == 0 || opts.Limit == 0 {
			return c.cfg.Source.ListPage(ctx, k, namespace, opts)
		}
		// Read at the revision the cache is on its way to, asking it for
		// the snapshot there before it may pass it: the later pages need
		// not come from etcd too.
		kc.want(rev)
		at := opts
		at.Revision = rev
		page, err := c.cfg.Source.ListPage(ctx, k, namespace, at)
		if err != nil || page.Continue == "" {
			kc.unwant(rev) // no later page
		}
		if errors.Is(err, storage.ErrCompacted) {
			return c.cfg.Source.ListPage(ctx, k, namespace, opts)
		}
		return page, err
	}
	kc.mu.Lock()
	snap, done := kc.objects.snapshot(), kc.done
	rev = kc.cur
	kc.mu.Unlock()
	if done {
		// Its etcd watch ended just now; the objects are gone.
		c.metrics.fallback(k, "not_current")
		return c.cfg.Source.ListPage(ctx, k, namespace, opts)
	}
	page := readPage(snap, info, namespace, "", rev, opts)
	if page.Continue != "" {
		kc.hold(rev, snap)
	}
	c.metrics.served(k)
	return page, nil
}

// continueList reads a later page from the snapshot its token was read
// at, when the cache holds it, else from etcd.
func (c *Cache) continueList(ctx context.Context, info skiffv1.KindInfo, namespace string, opts storage.ListOptions) (*storage.ListPage, error) {
	rev, start, err := storage.ParseContinue(opts.Continue, info, namespace, opts.Selector)
	// etcd's answer for a revision compacted away is an expired token: the
	// cache's must not differ.
	if err != nil || rev < c.cfg.Source.CompactedRevision() {
		return c.cfg.Source.ListPage(ctx, info.Kind, namespace, opts)
	}
	c.mu.Lock()
	kc := c.kinds[info.Kind]
	c.mu.Unlock()
	var snap *snapshot
	if kc != nil {
		snap = kc.held(ctx, rev)
	}
	if snap == nil {
		c.metrics.fallback(info.Kind, "snapshot_gone")
		return c.cfg.Source.ListPage(ctx, info.Kind, namespace, opts)
	}
	page := readPage(snap, info, namespace, start, rev, opts)
	c.metrics.served(info.Kind)
	return page, nil
}

// consistent returns the kind's cache once it has seen etcd's current
// revision, starting it if needed; an error when that takes longer than
// ConsistentReadTimeout or etcd cannot be read, with the kind's cache and
// etcd's revision when they were had (nil, 0 otherwise).
func (c *Cache) consistent(ctx context.Context, k skiffv1.Kind) (*kind, int64, error) {
	wctx, cancel := context.WithTimeout(ctx, c.cfg.ConsistentReadTimeout)
	defer cancel()
	kc, err := c.kindFor(wctx, k, 0)
	if err != nil {
		return nil, 0, err
	}
	rev, err := c.cfg.Source.CurrentRevision(wctx)
	if err != nil {
		return kc, 0, err
	}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for asked := false; ; {
		kc.mu.Lock()
		cur, advanced, done := kc.cur, kc.advanced, kc.done
		kc.mu.Unlock()
		switch {
		case cur >= rev:
			return kc, rev, nil
		case done:
			return nil, 0, errGone
		case !asked:
			kc.requestProgress(wctx)
			asked = true
		}
		select {
		case <-advanced:
		case <-tick.C:
			// etcd answers a progress request only once every watch on
			// the stream is current: ask again.
			asked = false
		case <-wctx.Done():
			return kc, rev, wctx.Err()
		}
	}
}

// requestProgress asks etcd for a progress notification on the kind's
// stream, at most once per progressEvery however many lists wait.
func (kc *kind) requestProgress(ctx context.Context) {
	now := time.Now().UnixNano()
	last := kc.lastProgress.Load()
	if now-last < int64(progressEvery) || !kc.lastProgress.CompareAndSwap(last, now) {
		return
	}
	// A request that fails leaves the list waiting, then reading etcd.
	_ = kc.c.cfg.Source.RequestProgress(kc.stream(ctx))
}

// hold keeps snap for the later pages of a list read at rev.
func (kc *kind) hold(rev int64, snap *snapshot) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.holdLocked(rev, snap, time.Now())
}

// holdLocked is hold with kc.mu held.
func (kc *kind) holdLocked(rev int64, snap *snapshot, now time.Time) {
	if kc.touch(rev, now) != nil {
		return
	}
	if len(kc.snaps) >= maxSnapshots {
		// The one closest to expiry makes room.
		var oldest int64
		for r, h := range kc.snaps {
			if oldest == 0 || h.expires.Before(kc.snaps[oldest].expires) {
				oldest = r
			}
		}
		delete(kc.snaps, oldest)
	}
	kc.snaps[rev] = &heldSnapshot{snap: snap, expires: now.Add(kc.c.cfg.SnapshotTTL)}
	kc.c.metrics.snapshots(kc.kind, len(kc.snaps))
}

// want asks for the snapshot at rev, where etcd read a list's first page:
// taken now when the objects are the kind as it was at rev, else as the
// cache passes rev (takeWanted).
func (kc *kind) want(rev int64) {
	now := time.Now()
	kc.mu.Lock()
	defer kc.mu.Unlock()
	switch {
	case kc.done || kc.touch(rev, now) != nil:
	case rev <= kc.cur:
		if kc.changed <= rev {
			kc.holdLocked(rev, kc.objects.snapshot(), now)
		}
	default:
		kc.wanted[rev] = now.Add(kc.c.cfg.SnapshotTTL)
	}
}

// unwant forgets a wanted revision no page will continue from.
func (kc *kind) unwant(rev int64) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	delete(kc.wanted, rev)
}

// takeWanted holds the objects as they are as the snapshot of each
// revision wanted before rev: called with kc.mu held when a change at
// rev is about to be applied, or every change before rev is in.
func (kc *kind) takeWanted(rev int64) {
	if len(kc.wanted) == 0 {
		return
	}
	now := time.Now()
	var snap *snapshot
	for r, until := range kc.wanted {
		if r >= rev {
			continue
		}
		delete(kc.wanted, r)
		if now.After(until) {
			continue
		}
		if snap == nil {
			snap = kc.objects.snapshot()
		}
		kc.holdLocked(r, snap, now)
	}
}

// held is the snapshot at rev, kept for another SnapshotTTL: one held,
// the objects when the kind has not changed since rev, or, when rev is
// wanted, the one taken as the cache passes it, waited for up to
// ConsistentReadTimeout (then no longer wanted). Nil when none is had.
func (kc *kind) held(ctx context.Context, rev int64) *snapshot {
	var tick *time.Ticker
	for {
		kc.mu.Lock()
		now := time.Now()
		if snap := kc.touch(rev, now); snap != nil {
			kc.mu.Unlock()
			return snap
		}
		if !kc.done && kc.changed <= rev && rev <= kc.cur {
			snap := kc.objects.snapshot()
			kc.holdLocked(rev, snap, now)
			kc.mu.Unlock()
			return snap
		}
		_, wanted := kc.wanted[rev]
		advanced, done := kc.advanced, kc.done
		kc.mu.Unlock()
		if !wanted || done {
			return nil
		}
		if tick == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, kc.c.cfg.ConsistentReadTimeout)
			defer cancel()
			tick = time.NewTicker(progressEvery)
			defer tick.Stop()
			kc.requestProgress(ctx)
		}
		select {
		case <-advanced:
		case <-tick.C:
			// An idle kind gets there by a progress notification.
			kc.requestProgress(ctx)
		case <-ctx.Done():
			kc.mu.Lock()
			delete(kc.wanted, rev)
			kc.mu.Unlock()
			return nil
		}
	}
}

// touch drops the snapshots that are done with and returns the one held
// at rev, kept for another SnapshotTTL, or nil. Called with kc.mu held.
func (kc *kind) touch(rev int64, now time.Time) *snapshot {
	kc.dropSnapshots(now)
	h := kc.snaps[rev]
	if h == nil {
		return nil
	}
	h.expires = now.Add(kc.c.cfg.SnapshotTTL)
	return h.snap
}

// dropSnapshots forgets the expired snapshots and those compacted away.
// Called with kc.mu held.
func (kc *kind) dropSnapshots(now time.Time) {
	compacted := kc.c.cfg.Source.CompactedRevision()
	for r, h := range kc.snaps {
		if now.After(h.expires) || r < compacted {
			delete(kc.snaps, r)
		}
	}
	kc.c.metrics.snapshots(kc.kind, len(kc.snaps))
}

// readPage reads a page from a snapshot at rev as storage.Store.ListPage
// reads one from etcd: from start (after the list's prefix) on, at most
// opts.Limit items that opts.Match accepts, a continue token when any key
// follows the last one looked at, and without Match how many follow.
func readPage(snap *snapshot, info skiffv1.KindInfo, namespace, start string, rev int64, opts storage.ListOptions) *storage.ListPage {
	prefix := ""
	if info.Namespaced && namespace != "" {
		prefix = namespace + "/"
	}
	paging := opts.Limit > 0
	page := &storage.ListPage{Revision: rev}
	size := int64(snap.n)
	if prefix != "" {
		size = 0 // one namespace: no telling how many
	}
	if paging {
		size = min(size, opts.Limit)
	}
	page.Items = make([]skiffv1.Resource, 0, size)
	page.Encoded = make([][]byte, 0, size)
	encoded := true
	var last string
	more := false
	snap.scan(prefix+start, prefix, func(e *entry) bool {
		if paging && int64(len(page.Items)) >= opts.Limit {
			more = true
			return false
		}
		last = e.key
		if opts.Match == nil || opts.Match(e.obj) {
			page.Items = append(page.Items, e.obj)
			page.Encoded = append(page.Encoded, e.wire)
			encoded = encoded && e.wire != nil
		}
		return true
	})
	if !encoded {
		page.Encoded = nil
	}
	if more {
		next := strings.TrimPrefix(last, prefix) + "\x00"
		page.Continue = storage.NewContinue(info, namespace, opts.Selector, rev, next)
		if opts.Match == nil {
			page.RemainingItemCount = snap.countFrom(prefix+next, prefix)
		}
	}
	return page
}
