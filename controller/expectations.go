package controller

import (
	"sync"
	"time"
)

// expectations remember, per replica set, the pod creations and deletions
// a sync asked for and the informer has not shown yet. Until they are seen
// the replica set is not scaled again: the cache would show too few (or
// too many) pods and the sync would create (or delete) them twice. After
// expectationsTimeout they are given up on, in case a watch event was
// lost for good.
type expectations struct {
	mu      sync.Mutex
	m       map[string]*expectation
	timeout time.Duration
}

type expectation struct {
	adds int
	dels map[string]struct{} // pod UIDs
	at   time.Time
}

const expectationsTimeout = 5 * time.Minute

func newExpectations() *expectations {
	return &expectations{m: map[string]*expectation{}, timeout: expectationsTimeout}
}

// satisfied reports whether key's replica set may be scaled: everything
// asked for has been observed, or it has been too long.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	return (x.adds <= 0 && len(x.dels) == 0) || time.Since(x.at) > e.timeout
}

func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: n, dels: map[string]struct{}{}, at: time.Now()}
}

func (e *expectations) expectDeletions(key string, uids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{dels: map[string]struct{}{}, at: time.Now()}
	for _, u := range uids {
		x.dels[u] = struct{}{}
	}
	e.m[key] = x
}

// creationObserved lowers the creations expected by one: a pod was seen,
// or a create was not made.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds--
	}
}

func (e *expectations) deletionObserved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.dels, uid)
	}
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
