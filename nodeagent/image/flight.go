package image

import (
	"context"
	"sync"
)

// flight runs one call per key at a time; callers asking for a key already
// in flight wait for its result instead of starting their own (like
// x/sync/singleflight, plus progress fan-out and cancellation only when
// every waiter has gone).
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done    chan struct{}
	val     T
	err     error
	cancel  context.CancelFunc
	waiters int
	nextID  int
	subs    map[int]ProgressFunc
}

// do runs fn for key, or joins the run in flight. fn gets a context that is
// cancelled only when all callers have given up, and a report function
// that reaches every caller's progress callback.
func (f *flight[T]) do(ctx context.Context, key string, progress ProgressFunc,
	fn func(ctx context.Context, report ProgressFunc) (T, error)) (T, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*call[T]{}
	}
	c, ok := f.calls[key]
	if !ok {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[T]{done: make(chan struct{}), cancel: cancel, subs: map[int]ProgressFunc{}}
		f.calls[key] = c
		go func() {
			c.val, c.err = fn(cctx, func(p Progress) { f.report(c, p) })
			f.mu.Lock()
			if f.calls[key] == c {
				delete(f.calls, key)
			}
			f.mu.Unlock()
			cancel()
			close(c.done)
		}()
	}
	c.waiters++
	id := c.nextID
	c.nextID++
	if progress != nil {
		c.subs[id] = progress
	}
	f.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		f.mu.Lock()
		delete(c.subs, id)
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
			if f.calls[key] == c {
				delete(f.calls, key) // a newcomer starts afresh
			}
		}
		f.mu.Unlock()
		var zero T
		return zero, ctx.Err()
	}
}

func (f *flight[T]) report(c *call[T], p Progress) {
	f.mu.Lock()
	subs := make([]ProgressFunc, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	for _, s := range subs {
		s(p)
	}
}
