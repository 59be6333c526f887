package scheduler

import (
	"context"
	"reflect"
	"testing"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fakeClock is a hand-moved clock for the queue.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) step(d time.Duration) { c.t = c.t.Add(d) }
func newTestQueue() (*queue, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return newQueue(time.Second, 10*time.Second, time.Minute, clk.now), clk
}

// popNow pops without blocking; "" when nothing is ready.
func popNow(t *testing.T, q *queue) *queuedPod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	qp, ok := q.pop(ctx)
	if !ok {
		return nil
	}
	return qp
}

func TestQueueOrder(t *testing.T) {
	q, _ := newTestQueue()
	q.add(testPod("old-low", "", "", createdAt(100)))
	q.add(testPod("new-high", "", "", createdAt(300), priority(10)))
	q.add(testPod("new-low", "", "", createdAt(200)))
	q.add(testPod("old-high", "", "", createdAt(50), priority(10)))
	var got []string
	for range 4 {
		got = append(got, popNow(t, q).pod.Metadata.Name)
	}
	want := []string{"old-high", "new-high", "old-low", "new-low"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	if qp := popNow(t, q); qp != nil {
		t.Fatalf("popped %s from an empty queue", qp.key)
	}
	if q.len() != 4 {
		t.Fatalf("in-flight pods are pending: len %d", q.len())
	}
}

func TestQueueUnschedulableWaitsForMove(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("p", "", ""))
	qp := popNow(t, q)
	q.requeue(qp, true)
	clk.step(5 * time.Second)
	if got := popNow(t, q); got != nil {
		t.Fatal("an unschedulable pod came back without a cluster change")
	}
	q.moveAll()
	if got := popNow(t, q); got == nil {
		t.Fatal("moveAll did not bring the pod back")
	}
}

func TestQueueMoveRespectsBackoff(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("p", "", ""))
	q.requeue(popNow(t, q), true)
	q.moveAll() // at once: the back-off (1s) still runs
	if got := popNow(t, q); got != nil {
		t.Fatal("moved pod skipped its back-off")
	}
	clk.step(time.Second)
	if got := popNow(t, q); got == nil || got.attempts != 1 {
		t.Fatalf("pod not back after its back-off: %+v", got)
	}
}

func TestQueueMoveDuringFlightGoesToBackoff(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("p", "", ""))
	qp := popNow(t, q)
	q.moveAll() // a node was added while the pod was being tried
	q.requeue(qp, true)
	clk.step(time.Second)
	if got := popNow(t, q); got == nil {
		t.Fatal("pod that missed a cluster change stayed unschedulable")
	}
}

func TestQueueBackoffDoubles(t *testing.T) {
	q, _ := newTestQueue()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := q.backoffFor(i + 1); got != w {
			t.Fatalf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
}

func TestQueueUnschedulableTimeout(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("p", "", ""))
	q.requeue(popNow(t, q), true)
	clk.step(59 * time.Second)
	if popNow(t, q) != nil {
		t.Fatal("too early")
	}
	clk.step(time.Second)
	if popNow(t, q) == nil {
		t.Fatal("unschedulable pod never retried after the timeout")
	}
}

func TestQueueSpecChangeRevives(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("p", "2", ""))
	q.requeue(popNow(t, q), true)
	clk.step(2 * time.Second)
	// A status-only change does not help.
	st := testPod("p", "2", "")
	st.Status.Message = "x"
	q.add(st)
	if popNow(t, q) != nil {
		t.Fatal("status update revived the pod")
	}
	q.add(testPod("p", "1", ""))
	if qp := popNow(t, q); qp == nil || qp.pod.Spec.Containers[0].Resources.Requests["cpu"] != "1" {
		t.Fatal("spec change did not revive the pod with its new spec")
	}
}

func TestQueueRemoveAndDone(t *testing.T) {
	q, _ := newTestQueue()
	q.add(testPod("a", "", ""))
	q.add(testPod("b", "", ""))
	q.remove("default/a")
	qp := popNow(t, q)
	if qp == nil || qp.key != "default/b" {
		t.Fatalf("got %+v", qp)
	}
	q.remove("default/b") // deleted while in flight
	q.requeue(qp, false)  // must not come back
	if q.len() != 0 || popNow(t, q) != nil {
		t.Fatal("deleted pod came back")
	}
	q.add(testPod("c", "", ""))
	qp = popNow(t, q)
	q.done(qp)
	if q.len() != 0 {
		t.Fatal("bound pod still pending")
	}
}

func TestQueuePopWakesOnAdd(t *testing.T) {
	q, _ := newTestQueue()
	got := make(chan string)
	go func() {
		qp, _ := q.pop(context.Background())
		got <- qp.key
	}()
	time.Sleep(10 * time.Millisecond)
	q.add(testPod("p", "", ""))
	select {
	case k := <-got:
		if k != "default/p" {
			t.Fatal(k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pop did not wake")
	}
}

// A new pod wakes only the unschedulable pods that wait for pods: required
// pod affinity or a DoNotSchedule spread constraint.
func TestQueueMoveWaitingForPods(t *testing.T) {
	q, clk := newTestQueue()
	spread := &skiffv1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "DoNotSchedule"}
	soft := &skiffv1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "ScheduleAnyway"}
	q.add(testPod("big", "64", ""))
	q.add(testPod("affine", "", "", requiredAffinity(term("zone", map[string]string{"app": "db"}))))
	q.add(testPod("spread", "", "", spreading(spread)))
	q.add(testPod("soft", "", "", spreading(soft)))
	q.add(testPod("anti", "", "", requiredAnti(term("zone", map[string]string{"app": "db"}))))
	for range 5 {
		q.requeue(popNow(t, q), true)
	}
	clk.step(5 * time.Second)
	q.moveWaitingForPods()
	got := map[string]bool{}
	for qp := popNow(t, q); qp != nil; qp = popNow(t, q) {
		got[qp.pod.Metadata.Name] = true
	}
	if want := map[string]bool{"affine": true, "spread": true}; !reflect.DeepEqual(got, want) {
		t.Fatalf("woke %v, want %v", got, want)
	}
	if len(q.unschedulable) != 3 || len(q.waitingForPods) != 0 {
		t.Fatalf("left %d unschedulable, %d waiting for pods; want 3 and 0", len(q.unschedulable), len(q.waitingForPods))
	}
	q.remove("default/affine")
	q.moveAll()
	if len(q.unschedulable) != 0 || len(q.waitingForPods) != 0 {
		t.Fatalf("after moveAll: %d unschedulable, %d waiting for pods", len(q.unschedulable), len(q.waitingForPods))
	}
}
