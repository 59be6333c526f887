package main

import (
	"bytes"
	"log"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the benchmark's server processes too.
func TestMain(m *testing.M) {
	if ok, err := serveRole(); ok {
		if err != nil {
			log.Fatal(err)
		}
		return
	}
	os.Exit(m.Run())
}

// The benchmark runs end to end at a small size, so it keeps working,
// with hollow nodes beating through Leases and, to compare, the old way.
func TestBenchmarkRuns(t *testing.T) {
	for _, nodeWrites := range []bool{false, true} {
		var out bytes.Buffer
		o := options{nodes: 5, pods: 20, perRS: 10, lists: 3, gets: 10, watchers: 3, events: 3, heartbeat: time.Second,
			steady: time.Second, nodeWrites: nodeWrites}
		if err := run(&out, o); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		for _, want := range []string{"steady heartbeats", "etcd", "update configmap", "pods/s", "list pods -A", "skiff get pods -A", "process 1: peak RSS", "watch cache, one request", "etcd, pages of", "get pod", "fan-out", "heartbeats over", "RSS", "etcd database"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("output lacks %q:\n%s", want, out.String())
			}
		}
		t.Logf("node writes %v:\n%s", nodeWrites, out.String())
	}
}
