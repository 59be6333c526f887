package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// listAllNamespaces is how many namespaces the pods of -list-all spread over.
const listAllNamespaces = 10

// runListAll fills a server with n pods and measures `list pods -A` (every
// namespace) samples times in one request and samples times in pages of
// chunk: latency, the CPU time of this process per list and the peak of
// its Go heap; the process holds the server, its etcd and the client, so
// both include the client's decoding.
func runListAll(out io.Writer, n int, chunk int64, samples int, noFsync bool) error {
	srv, stop, err := startServer(noFsync)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	c, err := client.New(srv.Addr(), client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	fillStart := time.Now()
	if err := fillPods(ctx, c, n); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d pods in %d namespaces created in %s\n", n, listAllNamespaces, time.Since(fillStart).Round(time.Millisecond))
	fmt.Fprintf(out, "%-12s %7s %9s %9s %9s %9s %10s\n", "LIST", "PODS", "P50", "P99", "MAX", "CPU/LIST", "PEAK-HEAP")
	for _, mode := range []struct {
		name  string
		chunk int64
	}{{"one-request", 0}, {fmt.Sprintf("pages-%d", chunk), chunk}} {
		r, got, peak, err := measureListAll(ctx, c, mode.chunk, samples)
		if err != nil {
			return fmt.Errorf("%s: %w", mode.name, err)
		}
		if got != n {
			return fmt.Errorf("%s listed %d pods, want %d", mode.name, got, n)
		}
		fmt.Fprintf(out, "%-12s %7d %9s %9s %9s %9s %9.0fM\n", mode.name, got, ms(r.p50), ms(r.p99), ms(r.max), ms(r.cpuPerOp), float64(peak)/(1<<20))
	}
	return nil
}

// fillPods creates n pods over listAllNamespaces namespaces, 32 at a time.
func fillPods(ctx context.Context, c *client.Client, n int) error {
	for i := range listAllNamespaces {
		if _, err := c.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)}}); err != nil {
			return err
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				p := benchPod(fmt.Sprintf("p-%06d", i))
				p.Metadata.Namespace = fmt.Sprintf("bench-%d", i%listAllNamespaces)
				if _, err := c.Pods().Create(ctx, p); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// measureListAll lists every pod samples times, chunk at a time, and
// samples the heap meanwhile.
func measureListAll(ctx context.Context, c *client.Client, chunk int64, samples int) (result, int, uint64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	peak := watchHeap()
	lat := make([]time.Duration, samples)
	got := 0
	start, cpu0 := time.Now(), cpuTime()
	for i := range lat {
		t := time.Now()
		pods, _, err := c.Pods().ListChunked(ctx, client.ListOptions{}, chunk)
		lat[i] = time.Since(t)
		if err != nil {
			peak()
			return result{}, 0, 0, err
		}
		got = len(pods)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return result{p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], max: lat[len(lat)-1],
		throughput: float64(samples) / elapsed.Seconds(), cpuPerOp: cpu / time.Duration(samples)}, got, peak(), nil
}

// watchHeap samples the bytes of live and unswept heap objects every 5 ms
// (runtime/metrics, which does not stop the world) until the returned
// function is called; that returns the peak.
func watchHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
