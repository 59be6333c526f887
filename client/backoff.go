package client

import (
	"context"
	"time"
)

// backoff doubles a wait from min up to max; reset after a success is the
// caller's business (make a new one).
type backoff struct {
	next, max time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{next: min, max: max} }

func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	if b.next *= 2; b.next > b.max {
		b.next = b.max
	}
}
