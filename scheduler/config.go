package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/client"
)

// Config configures a Scheduler. Only Client is required.
type Config struct {
	Client *client.Client
	Logger *slog.Logger
	// Metrics receives the skiff_scheduler_* metrics; nil keeps them unexported.
	Metrics prometheus.Registerer
	// Name is the source written on events; default "scheduler".
	Name string
	// BindParallelism bounds the Bind calls in flight; default 256. A Bind
	// costs the server a few etcd round trips, so throughput comes from
	// many at once. When all are busy the scheduling loop waits, so a slow
	// API server slows scheduling down instead of piling up goroutines.
	BindParallelism int
	// PercentageOfNodesToScore: see AlgorithmOptions.
	PercentageOfNodesToScore int
	// InitialBackoff and MaxBackoff bound the wait before a failed pod is
	// tried again; defaults 1s and 10s.
	InitialBackoff, MaxBackoff time.Duration
	// UnschedulableTimeout is how long an unschedulable pod waits for a
	// cluster change before it is tried anyway; default 60s. It is a safety
	// net for changes the scheduler does not watch.
	UnschedulableTimeout time.Duration
	// Informers, when set, are the process's shared informers (the server
	// runs the controllers and DNS beside the scheduler); nil: each Run
	// reads through informers of its own.
	Informers *client.SharedInformers
}

func (c *Config) validate() error {
	if c.Client == nil {
		return errors.New("scheduler: Config.Client is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name = "scheduler"
	}
	if c.BindParallelism == 0 {
		c.BindParallelism = 256
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.UnschedulableTimeout == 0 {
		c.UnschedulableTimeout = time.Minute
	}
	switch {
	case c.BindParallelism < 0:
		return fmt.Errorf("scheduler: BindParallelism %d: must be positive", c.BindParallelism)
	case c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100:
		return fmt.Errorf("scheduler: PercentageOfNodesToScore %d: must be 0 (adaptive) to 100", c.PercentageOfNodesToScore)
	case c.InitialBackoff < 0 || c.MaxBackoff < c.InitialBackoff:
		return fmt.Errorf("scheduler: back-off %v..%v: the initial must be positive and at most the maximum", c.InitialBackoff, c.MaxBackoff)
	case c.UnschedulableTimeout < 0:
		return fmt.Errorf("scheduler: UnschedulableTimeout %v: must be positive", c.UnschedulableTimeout)
	}
	return nil
}
