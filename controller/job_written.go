package controller

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
)

// writtenStatuses remembers, per object, the last status a controller
// wrote until its informer shows it (Job and CronJob controllers).
//
// The pod cache can run ahead of the Job cache: a pod whose finalizer was removed after it was written
// into status.uncountedTerminatedPods is already released there while the
// cached Job still lacks that write. Counting from such a Job would lose
// the pod's success (a work queue would start a pod after its first
// success) or a failure decision. A sync waits instead: the informer's
// update of the Job queues it again.
//
// The CronJob controller likewise must not start a Replace run from a
// cached CronJob that does not list the run it just started.
//
// Only its controller writes such a status, so the cache has caught up
// once it holds a status equal to the one written. A stale object whose
// status equals it counts the same, so equality is all that matters.
type writtenStatuses struct {
	mu      sync.Mutex
	m       map[string]writtenStatus
	timeout time.Duration
}

type writtenStatus struct {
	st proto.Message
	at time.Time
}

func newWrittenStatuses() *writtenStatuses {
	return &writtenStatuses{m: map[string]writtenStatus{}, timeout: expectationsTimeout}
}

// wrote records st as key's newest status on the server.
func (w *writtenStatuses) wrote(key string, st proto.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[key] = writtenStatus{st: st, at: time.Now()}
}

// caughtUp reports whether cached, the status of key's object in the
// cache, is the last one written (or it has been too long, in case a
// write was overwritten).
func (w *writtenStatuses) caughtUp(key string, cached proto.Message) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.m[key]
	if !ok {
		return true
	}
	if proto.Equal(x.st, cached) || time.Since(x.at) > w.timeout {
		delete(w.m, key)
		return true
	}
	return false
}

func (w *writtenStatuses) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
}
