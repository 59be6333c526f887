package scheduler_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/scheduler"
)

// How `skiff scheduler` wires it: one scheduler acts among several, through
// an election in the API server's etcd.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := client.New("127.0.0.1:6443", client.Options{})
	if err != nil {
		log.Error("client", "err", err)
		return
	}
	s, err := scheduler.New(scheduler.Config{Client: c, Logger: log, Metrics: prometheus.NewRegistry()})
	if err != nil {
		log.Error("scheduler", "err", err)
		return
	}
	host, _ := os.Hostname()
	err = leader.Run(ctx, leader.Config{
		Endpoints: []string{"http://127.0.0.1:2379"},
		Name:      "scheduler",
		Identity:  host,
		TTL:       5 * time.Second,
		Logger:    log,
	}, s.Run)
	if err != nil {
		log.Error("scheduler stopped", "err", err)
	}
}
