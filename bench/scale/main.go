// Command scale measures the control plane at scale with hollow nodes: N
// Node objects kept alive by lightweight fake agents in this process
// (heartbeats as real agents send them, no containers), pods created
// through ReplicaSets and bound by the real scheduler, against a real
// control plane (API server, embedded etcd, scheduler, controllers). It
// reports pods scheduled per second, full pod list and single-object read
// latencies (p50, p99), watch fan-out delay, the process's RSS and CPU,
// etcd's database size and the heartbeat write load.
//
//	go run ./bench/scale [-nodes 500] [-pods 5000] [-watchers 100]
package main

import (
	"flag"
	"log"
	"os"
	"time"
)

func main() {
	if ok, err := serveRole(); ok {
		if err != nil {
			log.Fatal(err)
		}
		return
	}
	var o options
	flag.IntVar(&o.nodes, "nodes", 500, "hollow nodes")
	flag.IntVar(&o.pods, "pods", 5000, "pods, created through replica sets of -per-rs replicas")
	flag.IntVar(&o.perRS, "per-rs", 100, "replicas per replica set")
	flag.IntVar(&o.lists, "lists", 20, "full pod lists (all namespaces) to time")
	flag.IntVar(&o.gets, "gets", 500, "single-pod reads to time")
	flag.IntVar(&o.watchers, "watchers", 100, "watch streams for the fan-out measurement")
	flag.IntVar(&o.events, "events", 20, "changes each watcher must see")
	flag.DurationVar(&o.heartbeat, "heartbeat", 10*time.Second, "hollow nodes' heartbeat interval (Kubernetes' Lease renewal)")
	flag.BoolVar(&o.nodeWrites, "node-writes", false, "beat by writing the Node's status every beat (as before Leases), to compare")
	flag.DurationVar(&o.steady, "steady", 30*time.Second, "how long to measure heartbeats alone before creating pods (0: not at all)")
	flag.Func("skiff", "a skiff binary whose `get pods -A` is timed; repeat to compare binaries in one run (default: this benchmark acting as skiff's command line)", func(path string) error {
		o.skiff = append(o.skiff, path)
		return nil
	})
	flag.Parse()
	if err := run(os.Stdout, o); err != nil {
		log.Fatal(err)
	}
}
