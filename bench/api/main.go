// Command api measures the API server: create, get and list (of a namespace
// of 50 pods) latency (p50, p99) and throughput at 1, 16 and 64 concurrent
// clients, against a
// server with its embedded etcd (fsync on, as in production) in a
// temporary directory, over gRPC on loopback.
//
//	go run ./bench/api [-ops 3000] [-clients 1,16,64]
//
// With -watchers it measures watch fan-out instead: the delay from a write
// to its arrival at the last of that many watchers, with the API server's
// watch cache off (an etcd watch per client watch) and on, in one run.
//
//	go run ./bench/api -watchers 1000 [-events 200] [-gap 50ms]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/client"
)

func main() {
	ops := flag.Int("ops", 3000, "operations per measurement")
	clientsFlag := flag.String("clients", "1,16,64", "concurrent clients, comma-separated")
	noFsync := flag.Bool("no-fsync", false, "skip etcd's fsync (not what production does)")
	watchers := flag.Int("watchers", 0, "measure watch fan-out to this many watchers instead, with the watch cache off and on")
	events := flag.Int("events", 200, "changes watched, with -watchers")
	gap := flag.Duration("gap", 50*time.Millisecond, "time between changes, with -watchers")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server included) here")
	listAll := flag.Int("list-all", 0, "instead, measure `list pods -A` over this many pods, in one request and in pages")
	chunk := flag.Int64("chunk", client.DefaultChunkSize, "with -list-all: the page size")
	samples := flag.Int("samples", 20, "with -list-all: lists per mode")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *watchers > 0 {
		if err := runFanOut(os.Stdout, *watchers, *events, *gap, *noFsync); err != nil {
			pprof.StopCPUProfile()
			log.Fatal(err)
		}
		return
	}
	var clients []int
	for _, s := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("-clients: %q is not a positive number", s)
		}
		clients = append(clients, n)
	}
	var err error
	if *listAll > 0 {
		err = runListAll(os.Stdout, *listAll, *chunk, *samples, *noFsync)
	} else {
		err = run(os.Stdout, *ops, clients, *noFsync)
	}
	if err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
}

// startServer runs an API server in a temporary directory until stop.
func startServer(noFsync bool) (srv *apiserver.Server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "skiff-bench-api-")
	if err != nil {
		return nil, nil, err
	}
	srv, err = apiserver.New(apiserver.Config{
		DataDir: dir, Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0", UnsafeNoFsync: noFsync,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop = func() { cancel(); <-done; os.RemoveAll(dir) }
	select {
	case <-srv.Ready():
		return srv, stop, nil
	case err := <-done:
		cancel()
		os.RemoveAll(dir)
		return nil, nil, err
	}
}

func run(out io.Writer, ops int, clients []int, noFsync bool) error {
	srv, stop, err := startServer(noFsync)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	// One connection per client, as separate processes would have.
	conns := make([]*client.Client, maxOf(clients))
	for i := range conns {
		if conns[i], err = client.New(srv.Addr(), client.Options{}); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	if err := fillListNamespace(ctx, conns[0]); err != nil {
		return err
	}
	fmt.Fprintf(out, "%-8s %7s %9s %9s %9s %10s\n", "OP", "CLIENTS", "P50", "P99", "MAX", "OPS/S")
	for _, n := range clients {
		for _, op := range []string{"create", "get", "list"} {
			r, err := measure(ctx, conns[:n], op, ops, fmt.Sprintf("c%d", n))
			if err != nil {
				return fmt.Errorf("%s with %d clients: %w", op, n, err)
			}
			fmt.Fprintf(out, "%-8s %7d %9s %9s %9s %10.0f\n", op, n, ms(r.p50), ms(r.p99), ms(r.max), r.throughput)
		}
	}
	return nil
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}
