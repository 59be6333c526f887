package image

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFlightSharesOneRunAndCancelsOnlyWhenAllLeave(t *testing.T) {
	var f flight[int]
	started := make(chan context.Context, 2)
	release := make(chan struct{})
	runs := 0
	fn := func(ctx context.Context, report ProgressFunc) (int, error) {
		runs++
		started <- ctx
		report(Progress{Done: 1, Total: 1})
		select {
		case <-release:
			return 42, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}

	quitter, quit := context.WithCancel(context.Background())
	got := make(chan error, 2)
	go func() { _, err := f.do(quitter, "k", nil, fn); got <- err }()
	runCtx := <-started
	go func() {
		v, err := f.do(context.Background(), "k", nil, fn)
		if err == nil && v != 42 {
			err = errors.New("wrong value")
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the second caller join
	quit()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v", err)
	}
	if runCtx.Err() != nil {
		t.Fatal("run cancelled while a caller still waits")
	}
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("the caller that stayed got %v", err)
	}
	if runs != 1 {
		t.Errorf("%d runs, want 1", runs)
	}

	// When the only caller leaves, the run is cancelled.
	alone, leave := context.WithCancel(context.Background())
	go func() { _, err := f.do(alone, "k2", nil, fn); got <- err }()
	ctx := <-started
	leave()
	<-got
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("run not cancelled after every caller left")
	}
}
