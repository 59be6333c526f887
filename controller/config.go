package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/autoscale"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Config configures a Manager. Only Client is required.
type Config struct {
	Client *client.Client
	Logger *slog.Logger
	// Metrics receives the skiff_controller_* and skiff_autoscaler_*
	// metrics; nil keeps them unexported.
	Metrics prometheus.Registerer
	// Usage answers the pods' CPU use for the autoscaler; default: the
	// Usage service on Client's connection.
	Usage skiffv1.UsageClient
	// Name is the source written on events; default "controller".
	Name string
	// Workers per reconciler; default 4.
	Workers int
	// Informers, when set, are the process's shared informers (the server
	// runs the scheduler and DNS beside the controllers); nil: each Run
	// reads through informers of its own.
	Informers *client.SharedInformers

	// NodeGracePeriod is how long a node may go without a heartbeat
	// before it is marked Unknown and tainted unreachable; default 40s.
	NodeGracePeriod time.Duration
	// PodEvictionTimeout is how long a node stays unreachable before its
	// pods are deleted so their replica sets recreate them elsewhere;
	// default 5m.
	PodEvictionTimeout time.Duration
	// NodeMonitorPeriod is how often every node's heartbeat is checked;
	// default 5s (or a quarter of the grace period, if shorter).
	NodeMonitorPeriod time.Duration
	// NodeEvictionInterval: at most one node's pods are evicted per
	// interval, so that a partition does not empty the cluster in one
	// go; default 10s.
	NodeEvictionInterval time.Duration

	// AutoscalerSyncPeriod is how often each autoscaler is evaluated;
	// default 15s.
	AutoscalerSyncPeriod time.Duration
	// ScaleDownWindow: a scale-down takes the highest recommendation made
	// within this window; default 5m.
	ScaleDownWindow time.Duration
	// AutoscalerTolerance: a utilization within this fraction of the
	// target leaves the replica count alone; default 0.1.
	AutoscalerTolerance float64

	// BurstReplicas bounds the pods one replica set (or Job) sync creates
	// or deletes; default 500.
	BurstReplicas int

	// clock is what the Job controller's back-off, deadlines and TTLs
	// read; tests in this package set a fake one.
	clock clock
}

func (c *Config) setDefaults() error {
	if c.Client == nil {
		return errors.New("controller: Config.Client is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Usage == nil {
		c.Usage = skiffv1.NewUsageClient(c.Client.Conn())
	}
	if c.Name == "" {
		c.Name = "controller"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	def(&c.NodeGracePeriod, 40*time.Second)
	def(&c.PodEvictionTimeout, 5*time.Minute)
	def(&c.NodeMonitorPeriod, min(5*time.Second, c.NodeGracePeriod/4))
	def(&c.NodeEvictionInterval, 10*time.Second)
	def(&c.AutoscalerSyncPeriod, 15*time.Second)
	def(&c.ScaleDownWindow, 5*time.Minute)
	if c.AutoscalerTolerance == 0 {
		c.AutoscalerTolerance = autoscale.DefaultTolerance
	}
	if c.BurstReplicas == 0 {
		c.BurstReplicas = 500
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"NodeGracePeriod", c.NodeGracePeriod}, {"PodEvictionTimeout", c.PodEvictionTimeout},
		{"NodeMonitorPeriod", c.NodeMonitorPeriod}, {"NodeEvictionInterval", c.NodeEvictionInterval},
		{"AutoscalerSyncPeriod", c.AutoscalerSyncPeriod}, {"ScaleDownWindow", c.ScaleDownWindow},
	} {
		if d.v < 0 {
			return fmt.Errorf("controller: %s %v: must be positive", d.name, d.v)
		}
	}
	switch {
	case c.Workers < 0:
		return fmt.Errorf("controller: Workers %d: must be positive", c.Workers)
	case c.BurstReplicas < 0:
		return fmt.Errorf("controller: BurstReplicas %d: must be positive", c.BurstReplicas)
	case c.AutoscalerTolerance < 0 || c.AutoscalerTolerance >= 1:
		return fmt.Errorf("controller: AutoscalerTolerance %v: must be in [0, 1)", c.AutoscalerTolerance)
	}
	return nil
}
