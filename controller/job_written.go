package controller

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// writtenStatuses remembers, per Job, the last status the controller
// wrote until the Job informer shows it. The pod cache can run ahead of
// the Job cache: a pod whose finalizer was removed after it was written
// into status.uncountedTerminatedPods is already released there while the
// cached Job still lacks that write. Counting from such a Job would lose
// the pod's success (a work queue would start a pod after its first
// success) or a failure decision. A sync waits instead: the informer's
// update of the Job queues it again.
//
// Only the Job controller writes a Job's status, so the cache has caught
// up once it holds a status equal to the one written. A stale Job whose
// status equals it counts the same, so equality is all that matters.
type writtenStatuses struct {
	mu      sync.Mutex
	m       map[string]writtenStatus
	timeout time.Duration
}

type writtenStatus struct {
	st *skiffv1.JobStatus
	at time.Time
}

func newWrittenStatuses() *writtenStatuses {
	return &writtenStatuses{m: map[string]writtenStatus{}, timeout: expectationsTimeout}
}

// wrote records st as key's newest status on the server.
func (w *writtenStatuses) wrote(key string, st *skiffv1.JobStatus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[key] = writtenStatus{st: st, at: time.Now()}
}

// caughtUp reports whether the cached job shows the last status written
// for key (or it has been too long, in case a write was overwritten).
func (w *writtenStatuses) caughtUp(key string, job *skiffv1.Job) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	x, ok := w.m[key]
	if !ok {
		return true
	}
	if proto.Equal(x.st, job.GetStatus()) || time.Since(x.at) > w.timeout {
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
