package controller

import (
	"testing"
	"time"
)

// A clock that moves on by a second each time it is read, as a test's
// clock may between a controller's Now and the timer it sets.
type movingClock struct{ fake *FakeClock }

func (c movingClock) Now() time.Time {
	now := c.fake.Now()
	c.fake.Advance(time.Second)
	return now
}

func (c movingClock) At(t time.Time, f func()) { c.fake.At(t, f) }

// A wake-up set for a time fires when the clock reaches that time, however
// far the clock moved while the wake-up was being set.
func TestWakeupFiresAtItsTimeWhileTheClockMoves(t *testing.T) {
	start := time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)
	fake := NewFakeClock(start)
	queued := make(chan string, 4)
	w := newWakeups(movingClock{fake}, func(key string) { queued <- key })

	due := start.Add(time.Minute)
	w.queueAt(due, "default/tick")
	fake.Advance(due.Sub(fake.Now()))
	select {
	case key := <-queued:
		if key != "default/tick" {
			t.Fatalf("queued %q", key)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the wake-up for %s did not fire with the clock at %s", due, fake.Now())
	}

	// A time already past queues at once.
	w.queueAt(start, "default/late")
	select {
	case key := <-queued:
		if key != "default/late" {
			t.Fatalf("queued %q", key)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a wake-up for a past time did not fire")
	}
}
