package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/backoff"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// queue holds the pods waiting for a node, in one of four places:
//
//	active         ready to be tried, ordered by priority (high first), then age
//	backoff        failed recently; back to active when the back-off expires
//	unschedulable  fit nowhere; wait for a cluster change that may help (moveAll),
//	               or for unschedulableTimeout as a safety net
//	in flight      being scheduled or bound right now
//
// Nothing is retried in a loop: a pod is tried again only after its
// back-off, and an unschedulable one only after something changed.
type queue struct {
	mu            sync.Mutex
	items         map[string]*queuedPod
	active        activeHeap
	backoff       backoffHeap
	unschedulable map[string]*queuedPod
	// waitingForPods are the unschedulable pods a new pod may help (see
	// waitsForPods), so a placement wakes them without a scan of all.
	waitingForPods map[string]*queuedPod
	// moveSeq counts moveAll calls: a pod that fails while a move happened
	// since it was popped goes to backoff, not unschedulable, so the change
	// it missed is not lost.
	moveSeq int64
	// unschedulableDue is when the oldest unschedulable pod reaches
	// unschedulableTimeout (zero: none), so pop need not scan them every time.
	unschedulableDue time.Time
	wake             chan struct{}

	now                  func() time.Time
	initialBackoff       time.Duration
	maxBackoff           time.Duration
	unschedulableTimeout time.Duration
	onLen                func(int) // reports the number of pending pods
}

type podPlace int

const (
	inActive podPlace = iota
	inBackoff
	inUnschedulable
	inFlight
)

// queuedPod is one pending pod and its scheduling history.
type queuedPod struct {
	pod          *skiffv1.Pod
	key          string
	firstSeen    time.Time // for the queue → bound latency
	attempts     int
	backoffUntil time.Time
	place        podPlace
	heapIndex    int
	since        time.Time // entered unschedulable
	moveSeq      int64     // queue.moveSeq when popped
}

func newQueue(initialBackoff, maxBackoff, unschedulableTimeout time.Duration, now func() time.Time) *queue {
	return &queue{
		items:                map[string]*queuedPod{},
		unschedulable:        map[string]*queuedPod{},
		waitingForPods:       map[string]*queuedPod{},
		wake:                 make(chan struct{}, 1),
		now:                  now,
		initialBackoff:       initialBackoff,
		maxBackoff:           maxBackoff,
		unschedulableTimeout: unschedulableTimeout,
		onLen:                func(int) {},
	}
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// add records a pending pod, or refreshes the one it already has.
func (q *queue) add(pod *skiffv1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp, ok := q.items[key]; ok {
		if qp.pod.GetMetadata().GetUid() == pod.GetMetadata().GetUid() {
			q.updateLocked(qp, pod)
			return
		}
		q.removeLocked(qp) // deleted and created again under the same name
	}
	qp := &queuedPod{pod: pod, key: key, firstSeen: q.now(), place: inActive}
	q.items[key] = qp
	heap.Push(&q.active, qp)
	q.onLen(len(q.items))
	q.signal()
}

func (q *queue) updateLocked(qp *queuedPod, pod *skiffv1.Pod) {
	old := qp.pod
	qp.pod = pod
	switch qp.place {
	case inActive:
		heap.Fix(&q.active, qp.heapIndex)
	case inUnschedulable:
		// A changed spec (a new toleration, a smaller request) may fit now;
		// a status write (ours, with the reason) does not.
		if !proto.Equal(old.GetSpec(), pod.GetSpec()) {
			q.dropUnschedulableLocked(qp.key)
			q.reviveLocked(qp)
			q.signal()
		}
	}
}

// remove drops a pod that was bound or deleted.
func (q *queue) remove(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.items[key]; ok {
		q.removeLocked(qp)
	}
}

func (q *queue) removeLocked(qp *queuedPod) {
	delete(q.items, qp.key)
	switch qp.place {
	case inActive:
		heap.Remove(&q.active, qp.heapIndex)
	case inBackoff:
		heap.Remove(&q.backoff, qp.heapIndex)
	case inUnschedulable:
		q.dropUnschedulableLocked(qp.key)
	}
	q.onLen(len(q.items))
}

// done ends the life of a popped pod that was bound.
func (q *queue) done(qp *queuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items[qp.key] == qp {
		q.removeLocked(qp)
	}
}

// requeue puts back a popped pod that could not be placed (unschedulable) or
// whose attempt failed otherwise (a Bind error), with a back-off.
func (q *queue) requeue(qp *queuedPod, unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items[qp.key] != qp || qp.place != inFlight {
		return // deleted or bound meanwhile
	}
	qp.attempts++
	qp.backoffUntil = q.now().Add(q.backoffFor(qp.attempts))
	if unschedulable && qp.moveSeq == q.moveSeq {
		qp.place = inUnschedulable
		qp.since = q.now()
		q.unschedulable[qp.key] = qp
		if waitsForPods(qp.pod) {
			q.waitingForPods[qp.key] = qp
		}
		if q.unschedulableDue.IsZero() {
			q.unschedulableDue = qp.since.Add(q.unschedulableTimeout)
		}
		return
	}
	qp.place = inBackoff
	heap.Push(&q.backoff, qp)
	q.signal()
}

func (q *queue) backoffFor(attempts int) time.Duration {
	return backoff.Exponential(q.initialBackoff, q.maxBackoff, attempts-1)
}

// moveAll gives every unschedulable pod another try, after its back-off: the
// cluster changed in a way that may let it fit.
func (q *queue) moveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveSeq++
	q.unschedulableDue = time.Time{}
	if len(q.unschedulable) == 0 {
		return
	}
	for key, qp := range q.unschedulable {
		q.dropUnschedulableLocked(key)
		q.reviveLocked(qp)
	}
	q.signal()
}

// moveWaitingForPods is moveAll for the unschedulable pods that wait for
// pods: a pod was placed, which can only help those.
func (q *queue) moveWaitingForPods() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveSeq++
	if len(q.waitingForPods) == 0 {
		return
	}
	for key, qp := range q.waitingForPods {
		q.dropUnschedulableLocked(key)
		q.reviveLocked(qp)
	}
	q.signal()
}

func (q *queue) dropUnschedulableLocked(key string) {
	delete(q.unschedulable, key)
	delete(q.waitingForPods, key)
}

// waitsForPods: the pod has a required pod affinity or a DoNotSchedule
// spread constraint, which a new pod elsewhere may satisfy.
func waitsForPods(p *skiffv1.Pod) bool {
	if len(p.GetSpec().GetAffinity().GetPodAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution()) > 0 {
		return true
	}
	for _, c := range p.GetSpec().GetTopologySpreadConstraints() {
		if c.GetWhenUnsatisfiable() != "ScheduleAnyway" {
			return true
		}
	}
	return false
}

// reviveLocked sends a pod to active, or to backoff while its back-off runs.
func (q *queue) reviveLocked(qp *queuedPod) {
	if q.now().Before(qp.backoffUntil) {
		qp.place = inBackoff
		heap.Push(&q.backoff, qp)
		return
	}
	qp.place = inActive
	heap.Push(&q.active, qp)
}

// flushLocked moves expired back-offs to active and long-unschedulable pods
// back into play, and says how long until the next thing is due (0: none).
func (q *queue) flushLocked() time.Duration {
	now := q.now()
	for q.backoff.Len() > 0 && !now.Before(q.backoff[0].backoffUntil) {
		qp := heap.Pop(&q.backoff).(*queuedPod)
		qp.place = inActive
		heap.Push(&q.active, qp)
	}
	var next time.Duration
	due := func(d time.Duration) {
		if next == 0 || d < next {
			next = d
		}
	}
	if !q.unschedulableDue.IsZero() && !now.Before(q.unschedulableDue) {
		q.unschedulableDue = time.Time{}
		for key, qp := range q.unschedulable {
			at := qp.since.Add(q.unschedulableTimeout)
			if now.Before(at) {
				if q.unschedulableDue.IsZero() || at.Before(q.unschedulableDue) {
					q.unschedulableDue = at
				}
				continue
			}
			q.dropUnschedulableLocked(key)
			q.reviveLocked(qp)
		}
	}
	if !q.unschedulableDue.IsZero() {
		due(q.unschedulableDue.Sub(now))
	}
	if q.backoff.Len() > 0 {
		due(q.backoff[0].backoffUntil.Sub(now))
	}
	return next
}

// pop blocks until a pod is ready to be tried, or ctx ends (ok false).
func (q *queue) pop(ctx context.Context) (*queuedPod, bool) {
	for {
		q.mu.Lock()
		wait := q.flushLocked()
		if q.active.Len() > 0 {
			qp := heap.Pop(&q.active).(*queuedPod)
			qp.place = inFlight
			qp.moveSeq = q.moveSeq
			q.mu.Unlock()
			return qp, true
		}
		q.mu.Unlock()
		if !q.sleep(ctx, wait) {
			return nil, false
		}
	}
}

// sleep waits for a signal, for d (when not 0), or for ctx; false when ctx ended.
func (q *queue) sleep(ctx context.Context, d time.Duration) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-q.wake:
	case <-timer:
	}
	return true
}

// latest returns the newest pod object the queue has for a popped pod
// (informer updates keep arriving while it is in flight).
func (q *queue) latest(qp *queuedPod) *skiffv1.Pod {
	q.mu.Lock()
	defer q.mu.Unlock()
	return qp.pod
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// activeHeap orders by priority (high first), then creation time (old
// first), then key, so the order is total and stable.
type activeHeap []*queuedPod

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	a, b := h[i].pod, h[j].pod
	if pa, pb := a.GetSpec().GetPriority(), b.GetSpec().GetPriority(); pa != pb {
		return pa > pb
	}
	ta, tb := a.GetMetadata().GetCreationTimestamp(), b.GetMetadata().GetCreationTimestamp()
	if ta.GetSeconds() != tb.GetSeconds() {
		return ta.GetSeconds() < tb.GetSeconds()
	}
	if ta.GetNanos() != tb.GetNanos() {
		return ta.GetNanos() < tb.GetNanos()
	}
	return h[i].key < h[j].key
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *activeHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(*h)
	*h = append(*h, qp)
}
func (h *activeHeap) Pop() any {
	old := *h
	qp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return qp
}

// backoffHeap orders by back-off expiry.
type backoffHeap []*queuedPod

func (h backoffHeap) Len() int           { return len(h) }
func (h backoffHeap) Less(i, j int) bool { return h[i].backoffUntil.Before(h[j].backoffUntil) }
func (h backoffHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *backoffHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(*h)
	*h = append(*h, qp)
}
func (h *backoffHeap) Pop() any {
	old := *h
	qp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return qp
}

// has reports whether the queue holds a pod with this key (in flight too).
func (q *queue) has(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.items[key]
	return ok
}
