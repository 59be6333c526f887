package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fanOutResult is one server's figures: per change, the delay from the
// write's start to its arrival at the last of the watchers, and at each.
type fanOutResult struct {
	last, each  []time.Duration
	cpuPerEvent time.Duration
	etcdWatches float64
	idleCPU     float64 // cores used with every watch open and nothing changing
}

// idleSpan is how long the idle CPU is measured.
const idleSpan = 3 * time.Second

// runFanOut measures watch fan-out on a server with the watch cache off
// (an etcd watch per client watch) and on, one after the other in this
// run: watchers watches of the ConfigMaps of one namespace, each on its
// own connection, and events changes of one ConfigMap, one every gap.
func runFanOut(out io.Writer, watchers, events int, gap time.Duration, noFsync bool) error {
	fmt.Fprintf(out, "watch fan-out: %d watchers, %d changes of a ConfigMap (1 KiB of data), one every %v\n", watchers, events, gap)
	fmt.Fprintf(out, "%-12s %10s %10s %10s %10s %10s %12s %12s %10s\n", "WATCH-CACHE", "LAST P50", "LAST P99", "LAST MAX", "EACH P50", "EACH P99", "CPU/EVENT", "ETCD WATCHES", "IDLE CPU")
	for _, cached := range []bool{false, true} {
		r, err := fanOut(watchers, events, gap, noFsync, cached)
		if err != nil {
			return fmt.Errorf("watch cache %v: %w", cached, err)
		}
		fmt.Fprintf(out, "%-12v %10s %10s %10s %10s %10s %12s %12.0f %9.1f%%\n", cached,
			ms(pct(r.last, 0.50)), ms(pct(r.last, 0.99)), ms(pct(r.last, 1)),
			ms(pct(r.each, 0.50)), ms(pct(r.each, 0.99)), r.cpuPerEvent.Round(time.Microsecond), r.etcdWatches, 100*r.idleCPU)
	}
	fmt.Fprintln(out, "CPU/EVENT is this process's (server, etcd and the watchers' clients) CPU time over the changes, per change;")
	fmt.Fprintf(out, "IDLE CPU its share of one core over %v with every watch open and nothing changing.\n", idleSpan)
	return nil
}

func fanOut(watchers, events int, gap time.Duration, noFsync, cached bool) (fanOutResult, error) {
	var r fanOutResult
	dir, err := os.MkdirTemp("", "skiff-bench-fanout-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	reg := prometheus.NewRegistry()
	srv, err := apiserver.New(apiserver.Config{
		DataDir: dir, Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0", UnsafeNoFsync: noFsync,
		DisableWatchCache: !cached, Registerer: reg,
	})
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-srv.Ready():
	case err := <-done:
		return r, err
	}
	admin, err := client.New(srv.Addr(), client.Options{})
	if err != nil {
		return r, err
	}
	defer admin.Close()
	cm, err := admin.ConfigMaps().Create(ctx, &skiffv1.ConfigMap{
		Metadata: &skiffv1.ObjectMeta{Name: "fanout", Namespace: "default"},
		Data:     map[string]string{"v": "-1", "pad": strings.Repeat("x", 1024)},
	})
	if err != nil {
		return r, err
	}

	// arrivals[i][w] is when watcher w saw change i.
	arrivals := make([][]time.Time, events)
	for i := range arrivals {
		arrivals[i] = make([]time.Time, watchers)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	for w := range watchers {
		c, err := client.New(srv.Addr(), client.Options{})
		if err != nil {
			return r, err
		}
		defer c.Close()
		watch, err := c.ConfigMaps().Watch(wctx, client.ListOptions{Namespace: "default"}, cm.Metadata.ResourceVersion)
		if err != nil {
			return r, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer watch.Stop()
			for seen := 0; seen < events; {
				ev, err := watch.Next()
				if err != nil {
					mu.Lock()
					failure = fmt.Errorf("watcher %d after %d changes: %w", w, seen, err)
					mu.Unlock()
					return
				}
				if ev.Object == nil {
					continue
				}
				i, err := strconv.Atoi(ev.Object.Data["v"])
				if err != nil || i < 0 || i >= events {
					continue
				}
				arrivals[i][w] = time.Now()
				seen++
			}
		}()
	}
	// Every watch is open once it has seen a first change; that change is
	// not measured.
	if cm, err = setV(ctx, admin, cm, "-2"); err != nil {
		return r, err
	}
	time.Sleep(2 * time.Second)
	r.etcdWatches = gauge(reg, "skiff_apiserver_etcd_watches")
	idle0 := cpuTime()
	time.Sleep(idleSpan)
	r.idleCPU = float64(cpuTime()-idle0) / float64(idleSpan)

	starts := make([]time.Time, events)
	cpu0 := cpuTime()
	for i := range events {
		starts[i] = time.Now()
		if cm, err = setV(ctx, admin, cm, strconv.Itoa(i)); err != nil {
			return r, err
		}
		time.Sleep(gap)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		return r, fmt.Errorf("the watchers did not see every change within 2 minutes")
	}
	r.cpuPerEvent = (cpuTime() - cpu0) / time.Duration(events)
	if failure != nil {
		return r, failure
	}
	for i, at := range arrivals {
		var last time.Duration
		for _, t := range at {
			d := t.Sub(starts[i])
			r.each = append(r.each, d)
			last = max(last, d)
		}
		r.last = append(r.last, last)
	}
	return r, nil
}

func setV(ctx context.Context, c *client.Client, cm *skiffv1.ConfigMap, v string) (*skiffv1.ConfigMap, error) {
	next := proto.Clone(cm).(*skiffv1.ConfigMap)
	next.Data["v"] = v
	return c.ConfigMaps().Update(ctx, next)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func gauge(reg *prometheus.Registry, name string) float64 {
	families, err := reg.Gather()
	if err != nil {
		return -1
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
