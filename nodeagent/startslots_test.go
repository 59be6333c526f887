package nodeagent

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStartSlotsBoundConcurrentStarts(t *testing.T) {
	s := make(startSlots, 2)
	ctx := context.Background()
	r1, err1 := s.acquire(ctx)
	r2, err2 := s.acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	got := make(chan error, 1)
	go func() {
		release, err := s.acquire(ctx)
		if err == nil {
			release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a third start got a slot while two were taken (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	r1()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a released slot was not handed on")
	}
	r2()

	// A start whose pod goes away stops waiting.
	full := make(startSlots, 1)
	release, _ := full.acquire(ctx)
	defer release()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := full.acquire(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire on a cancelled context: %v", err)
	}
	// Unbounded when not made by New.
	var none startSlots
	for range 3 {
		if _, err := none.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
