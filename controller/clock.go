package controller

import "time"

// clock is the time a controller reads and the timers it sets, so tests
// can move time on instead of sleeping.
type clock interface {
	Now() time.Time
	// At calls f in its own goroutine once the clock reads t. The time is
	// absolute so that a clock moving on between a caller's Now and its
	// timer cannot push the timer later.
	At(t time.Time, f func())
}

type realClock struct{}

func (realClock) Now() time.Time           { return time.Now() }
func (realClock) At(t time.Time, f func()) { time.AfterFunc(time.Until(t), f) }
