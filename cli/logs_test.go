package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStallGuardBoundsWaitsNotTheTransfer(t *testing.T) {
	const d = 100 * time.Millisecond
	ctx, progress, stop := stallGuard(context.Background(), d, true)
	defer stop()
	// Data keeps coming for three times the bound: the stream lives on.
	for end := time.Now().Add(3 * d); time.Now().Before(end); {
		time.Sleep(d / 4)
		progress()
		if ctx.Err() != nil {
			t.Fatalf("cancelled while data was flowing: %v", context.Cause(ctx))
		}
	}
	// Then nothing: the guard ends the stream and says why.
	select {
	case <-ctx.Done():
	case <-time.After(20 * d):
		t.Fatal("a stalled stream was not cancelled")
	}
	err := stalled(ctx, context.Canceled, "web", d)
	if err == nil || !strings.Contains(err.Error(), `no log data for pod "web" in 100ms`) || !strings.Contains(err.Error(), "--request-timeout") {
		t.Fatalf("stalled: %v", err)
	}
}

func TestStallGuardOffForFollow(t *testing.T) {
	ctx, _, stop := stallGuard(context.Background(), time.Millisecond, false)
	time.Sleep(20 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatal("-f was cut by the stall guard")
	}
	stop()
	other := errors.New("rpc error")
	if got := stalled(ctx, other, "web", time.Millisecond); got != other {
		t.Fatalf("an error not caused by a stall was rewritten: %v", got)
	}
}

// Flag mistakes are told before anything is asked of the server.
func TestLogsFlagErrors(t *testing.T) {
	r := newRunner(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, "give one pod"},
		{[]string{"logs", "web", "-l", "app=web"}, "not both"},
		{[]string{"logs", "web", "--since", "5m", "--since-time", "2026-12-01T10:00:00Z"}, "at most one"},
		{[]string{"logs", "web", "--since-time", "yesterday"}, "--since-time=yesterday"},
		{[]string{"logs", "web", "--limit-bytes", "-1"}, "--limit-bytes=-1"},
		{[]string{"logs", "configmap/x"}, "logs of a ConfigMap are not supported"},
		{[]string{"logs", "deploy/nope"}, `"nope" not found`},
	} {
		res := r.run(c.args...)
		if res.e == nil || !strings.Contains(res.err, c.want) {
			t.Errorf("skiff %v: %v %q, want an error containing %q", c.args, res.e, res.err, c.want)
		}
	}
}
