// Package backoff is the one exponential back-off every skiff component
// uses: a delay that starts at a base, doubles with each failure in a row,
// and stops growing at a cap — as Kubernetes' work queues, the kubelet's
// crash-loop back-off and its scheduler's pod back-off all do.
package backoff

import (
	"context"
	"time"
)

// Exponential is the delay after n failures in a row (n from 0): base
// doubled n times, never more than max.
func Exponential(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Backoff counts failures in a row; Next is the delay before the next try.
// The zero value with Base and Max set is ready to use.
type Backoff struct {
	Base, Max time.Duration
	failures  int
}

// Next returns the delay before the next try and counts one more failure.
func (b *Backoff) Next() time.Duration {
	d := Exponential(b.Base, b.Max, b.failures)
	b.failures++
	return d
}

// Reset starts again from Base, after a success.
func (b *Backoff) Reset() { b.failures = 0 }

// Wait sleeps for Next, or until ctx ends.
func (b *Backoff) Wait(ctx context.Context) {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
