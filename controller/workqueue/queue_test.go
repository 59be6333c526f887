package workqueue

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/backoff"
)

func TestDedup(t *testing.T) {
	q := New(time.Millisecond, time.Second)
	q.Add("a")
	q.Add("b")
	q.Add("a")
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	k, _ := q.Get()
	if k != "a" {
		t.Fatalf("first key %q, want a (FIFO)", k)
	}
	// Added while held: not handed out again until Done.
	q.Add("a")
	if k2, _ := q.Get(); k2 != "b" {
		t.Fatalf("second key %q, want b", k2)
	}
	if q.Len() != 0 {
		t.Fatalf("a handed out twice at once")
	}
	q.Done("a")
	if k3, _ := q.Get(); k3 != "a" {
		t.Fatalf("a not requeued after Done: got %q", k3)
	}
}

func TestNeverTwoWorkersOnOneKey(t *testing.T) {
	q := New(time.Millisecond, time.Second)
	var busy, overlap atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, shut := q.Get()
				if shut {
					return
				}
				if busy.Add(1) > 1 {
					overlap.Add(1)
				}
				time.Sleep(100 * time.Microsecond)
				busy.Add(-1)
				q.Done(k)
			}
		}()
	}
	for i := 0; i < 500; i++ {
		q.Add("only")
		time.Sleep(10 * time.Microsecond)
	}
	time.Sleep(20 * time.Millisecond)
	q.ShutDown()
	wg.Wait()
	if overlap.Load() != 0 {
		t.Fatalf("one key was held by two workers %d times", overlap.Load())
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{10, 20, 40, 80, 100, 100} {
		if got := backoff.Exponential(10, 100, n); got != want {
			t.Errorf("backoff after %d failures = %v, want %v", n, got, want)
		}
	}
	q := New(5*time.Millisecond, time.Second)
	start := time.Now()
	q.AddRateLimited("k")
	q.AddRateLimited("k") // second failure: 10ms; the first add wins the dedup
	if k, _ := q.Get(); k != "k" {
		t.Fatal("key not delivered")
	}
	if time.Since(start) < 5*time.Millisecond {
		t.Errorf("rate-limited key delivered before its back-off")
	}
	if q.Failures("k") != 2 {
		t.Errorf("Failures = %d, want 2", q.Failures("k"))
	}
	q.Forget("k")
	if q.Failures("k") != 0 {
		t.Errorf("Forget did not reset the failures")
	}
}

func TestShutDownWakesGet(t *testing.T) {
	q := New(time.Millisecond, time.Second)
	done := make(chan bool)
	go func() { _, shut := q.Get(); done <- shut }()
	q.AddAfter("late", time.Hour)
	q.ShutDown()
	select {
	case shut := <-done:
		if !shut {
			t.Fatal("Get returned a key after shut down")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get not woken by ShutDown")
	}
	q.Add("x")
	if q.Len() != 0 {
		t.Fatal("Add after ShutDown queued a key")
	}
}
