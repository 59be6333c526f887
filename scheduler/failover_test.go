package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/scheduler"
)

// Two schedulers under one election: one binds; when it stops, the other
// takes over and binds what comes next.
func TestIntegrationLeaderFailover(t *testing.T) {
	srv := apitest.Start(t)
	e := &env{t: t, srv: srv, c: srv.Client, reg: prometheus.NewRegistry()}
	var cancel context.CancelFunc
	e.ctx, cancel = context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()

	type instance struct {
		stop context.CancelFunc
		done chan error
		reg  *prometheus.Registry
	}
	startOne := func(id string) *instance {
		reg := prometheus.NewRegistry()
		s, err := scheduler.New(scheduler.Config{Client: srv.Client, Logger: logger(), Metrics: reg, Name: "scheduler/" + id})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(e.ctx)
		in := &instance{stop: stop, done: make(chan error, 1), reg: reg}
		go func() {
			in.done <- leader.Run(ctx, leader.Config{
				Endpoints: srv.EtcdEndpoints, Name: "scheduler", Identity: id, TTL: 2 * time.Second, Logger: logger(),
			}, s.Run)
		}()
		t.Cleanup(func() { stop(); <-in.done })
		return in
	}
	bound := func(reg *prometheus.Registry) float64 {
		e.reg = reg
		return e.attempts("scheduled")
	}

	e.node("n1", "8", "16Gi", "110")
	a, b := startOne("a"), startOne("b")
	e.pod("first", "100m")
	e.waitBound("first", "n1")
	leaderOf := func() (*instance, *instance) {
		if bound(a.reg) > 0 {
			return a, b
		}
		return b, a
	}
	lead, standby := leaderOf()
	if bound(standby.reg) != 0 {
		t.Fatal("both schedulers bound pods")
	}
	lead.stop()
	if err := <-lead.done; err != nil {
		t.Fatalf("leader Run: %v", err)
	}
	lead.done <- nil // for the cleanup
	for i := range 3 {
		e.pod(fmt.Sprintf("after-%d", i), "100m")
	}
	for i := range 3 {
		e.waitBound(fmt.Sprintf("after-%d", i), "n1")
	}
	if got := bound(standby.reg); got != 3 {
		t.Fatalf("the standby bound %v pods, want 3", got)
	}
}
