package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/skiff-sh/skiff/backoff"
)

// ErrNoChange, returned by a Modify callback, means there is nothing to write.
var ErrNoChange = errors.New("no change")

// RetryOnConflict runs fn until it returns something other than a conflict,
// with a short jittered back-off, or until ctx ends.
func RetryOnConflict(ctx context.Context, fn func() error) error {
	b := backoff.Backoff{Base: time.Millisecond, Max: 128 * time.Millisecond}
	for {
		err := fn()
		if !IsConflict(err) {
			return err
		}
		delay := b.Next()
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay/2 + rand.N(delay)):
		}
	}
}
