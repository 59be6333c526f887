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
	// The binder counts the bind after the API server has it: wait for
	// the count before reading who leads.
	e.waitFor("one scheduler to count the bind", func() (bool, string) {
		na, nb := bound(a.reg), bound(b.reg)
		return na+nb == 1, fmt.Sprintf("a counted %v, b %v", na, nb)
	})
	lead, standby := a, b
	if bound(a.reg) == 0 {
		lead, standby = b, a
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
	e.waitFor("the standby to count its binds", func() (bool, string) {
		n := bound(standby.reg)
		return n >= 3, fmt.Sprintf("%v", n)
	})
	if got, old := bound(standby.reg), bound(lead.reg); got != 3 || old != 1 {
		t.Fatalf("the standby bound %v pods (want 3), the old leader %v (want 1)", got, old)
	}
}
