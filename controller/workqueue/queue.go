package workqueue

import (
	"sync"
	"time"

	"github.com/skiff-sh/skiff/backoff"
)

// Queue holds keys waiting for a worker. The zero value is not usable;
// make one with New.
type Queue struct {
	mu   sync.Mutex
	cond *sync.Cond
	// order is the keys ready for a worker, first in first out.
	order []string
	// dirty is the keys waiting (in order, or to go back there when
	// their worker is done).
	dirty map[string]struct{}
	// processing is the keys a worker holds.
	processing map[string]struct{}
	// failures counts consecutive failures per key, for the back-off.
	failures map[string]int
	// timers are the delayed adds pending, so ShutDown can stop them.
	timers map[*time.Timer]struct{}

	baseDelay, maxDelay time.Duration
	shuttingDown        bool
}

// New makes a queue whose failed keys come back after baseDelay, doubling
// per consecutive failure up to maxDelay.
func New(baseDelay, maxDelay time.Duration) *Queue {
	q := &Queue{
		dirty: map[string]struct{}{}, processing: map[string]struct{}{},
		failures: map[string]int{}, timers: map[*time.Timer]struct{}{},
		baseDelay: baseDelay, maxDelay: maxDelay,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key unless it is already waiting. A key being processed is
// queued again when its worker calls Done, never handed out twice at once.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shuttingDown {
		return
	}
	if _, ok := q.dirty[key]; ok {
		return
	}
	q.dirty[key] = struct{}{}
	if _, ok := q.processing[key]; ok {
		return
	}
	q.order = append(q.order, key)
	q.cond.Signal()
}

// AddAfter queues key once d has passed.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shuttingDown {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		delete(q.timers, t)
		q.mu.Unlock()
		q.Add(key)
	})
	q.timers[t] = struct{}{}
}

// AddRateLimited queues key after its back-off: baseDelay × 2^failures,
// at most maxDelay. Call it when handling key failed.
func (q *Queue) AddRateLimited(key string) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	q.AddAfter(key, backoff.Exponential(q.baseDelay, q.maxDelay, n))
}

// Forget clears key's failure count. Call it when handling key succeeded.
func (q *Queue) Forget(key string) {
	q.mu.Lock()
	delete(q.failures, key)
	q.mu.Unlock()
}

// Failures is how many times in a row key has failed.
func (q *Queue) Failures(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[key]
}

// Get blocks until a key is ready and hands it to the caller, who must
// call Done with it. shutdown is true once the queue is shut down.
func (q *Queue) Get() (key string, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shuttingDown {
		q.cond.Wait()
	}
	if q.shuttingDown {
		return "", true
	}
	key = q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	delete(q.dirty, key)
	q.processing[key] = struct{}{}
	return key, false
}

// Done releases key; if it was added while held, it is queued again.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if _, ok := q.dirty[key]; ok && !q.shuttingDown {
		q.order = append(q.order, key)
		q.cond.Signal()
	}
}

// Len is the number of keys waiting for a worker.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// ShutDown wakes every Get with shutdown=true and drops delayed adds.
// Workers finish the keys they hold; nothing new is handed out.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shuttingDown = true
	for t := range q.timers {
		t.Stop()
	}
	q.timers = map[*time.Timer]struct{}{}
	q.cond.Broadcast()
}
