package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/scheduler"
)

// A scheduler on the process's shared informers, which another component
// keeps running, loses and regains leadership: its second term is told
// of the pods already bound (so it does not overcommit their node) and
// of the pod created while it was away.
func TestIntegrationSharedInformersAcrossTerms(t *testing.T) {
	e := start(t)
	set := client.NewSharedInformers(e.c, logger())
	other := set.NewScope() // the controllers, say
	defer other.Close()
	otherPods := client.Inform(other, (*client.Client).Pods, client.ListOptions{})
	client.Inform(other, (*client.Client).Nodes, client.ListOptions{})
	other.Start()
	e.node("n1", "2", "4Gi", "110")

	term := func() (stop func()) {
		s, err := scheduler.New(scheduler.Config{
			Client: e.c, Logger: logger(), Informers: set,
			InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("scheduler.Run: %v", err)
			}
		}
	}
	stop := term()
	e.pod("first", "1")
	e.waitBound("first", "n1")
	stop()

	e.pod("while-away", "1")
	e.waitFor("the other component to see the pending pod", func() (bool, string) {
		_, ok := otherPods.Get("default/while-away")
		return ok, "not yet"
	})
	stop = term()
	defer stop()
	e.waitBound("while-away", "n1")
	e.pod("no-room", "1")
	e.waitUnschedulable("no-room", "0/1 nodes are available: 1 Insufficient cpu.")
}
