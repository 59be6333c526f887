package controller

import (
	"sync"
	"time"
)

// FakeClock is a clock tests move by hand; timers fire as it passes them.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func NewFakeClock(now time.Time) *FakeClock { return &FakeClock{now: now} }

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *FakeClock) At(t time.Time, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.After(c.now) {
		go f()
		return
	}
	c.timers = append(c.timers, fakeTimer{t, f})
}

// Advance moves the clock on by d and fires the timers it passed.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			due = append(due, t.f)
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

// WithClock makes the manager's Job controller read c.
func WithClock(c *FakeClock) func(*Config) {
	return func(cfg *Config) { cfg.clock = c }
}
