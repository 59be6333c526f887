package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ErrNoChange, returned by a Modify callback, means there is nothing to write.
var ErrNoChange = errors.New("no change")

// RetryOnConflict runs fn until it returns something other than a conflict,
// with a short jittered back-off, or until ctx ends.
func RetryOnConflict(ctx context.Context, fn func() error) error {
	delay := time.Millisecond
	for {
		err := fn()
		if !IsConflict(err) {
			return err
		}
		sleep := delay/2 + rand.N(delay)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(sleep):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}
