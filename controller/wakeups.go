package controller

import (
	"sync"
	"time"
)

// wakeups queues keys again once a time on the controller's clock has
// passed (a Job's deadline, a CronJob's next run). Every sync of such an
// object asks again; a timer already set for that time or earlier is
// enough, so one key holds at most one pending timer that matters.
type wakeups struct {
	clock clock
	queue func(key string)

	mu sync.Mutex
	at map[string]time.Time // by key: the earliest timer set
}

func newWakeups(c clock, queue func(key string)) *wakeups {
	return &wakeups{clock: c, queue: queue, at: map[string]time.Time{}}
}

// queueAt queues key once the clock reads t (at once if it is past).
func (w *wakeups) queueAt(t time.Time, key string) {
	now := w.clock.Now()
	at := t
	if at.Before(now) {
		at = now
	}
	w.mu.Lock()
	if prev, ok := w.at[key]; ok && prev.After(now) && !prev.After(at) {
		w.mu.Unlock()
		return
	}
	w.at[key] = at
	w.mu.Unlock()
	w.clock.At(at, func() {
		w.mu.Lock()
		if w.at[key].Equal(at) {
			delete(w.at, key)
		}
		w.mu.Unlock()
		w.queue(key)
	})
}

// forget drops key's pending wake-up record (the object is gone); a timer
// already running still fires into the queue, which finds nothing to do.
func (w *wakeups) forget(key string) {
	w.mu.Lock()
	delete(w.at, key)
	w.mu.Unlock()
}
