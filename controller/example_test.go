package controller_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/leader"
)

// How `skiff controller` wires it: one manager acts among several, through
// an election in the API server's etcd. Inside `skiff server` the same
// Manager runs with the server's own client and endpoints.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := client.New("127.0.0.1:6443", client.Options{})
	if err != nil {
		log.Error("client", "err", err)
		return
	}
	m, err := controller.New(controller.Config{
		Client:  c,
		Logger:  log,
		Metrics: prometheus.NewRegistry(),
		// The rest default: 40s node grace, 5m eviction timeout, 15s
		// autoscaler period, 5m scale-down window.
	})
	if err != nil {
		log.Error("controller", "err", err)
		return
	}
	host, _ := os.Hostname()
	err = leader.Run(ctx, leader.Config{
		Endpoints: []string{"http://127.0.0.1:2379"},
		Name:      "controller",
		Identity:  host,
		TTL:       5 * time.Second,
		Logger:    log,
	}, m.Run)
	if err != nil {
		log.Error("controller stopped", "err", err)
	}
}
