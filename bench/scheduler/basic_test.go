package scheduler

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

var sizes = flag.String("sizes", "500x1000,5000x10000", "SchedulingBasic sizes as NODESxPODS, comma-separated")

// BenchmarkSchedulingBasic reports pods/s end to end (first create → all
// bound) for each size. Each size is one round on a fresh server; run with
// -benchtime 1x.
func BenchmarkSchedulingBasic(b *testing.B) {
	for _, sz := range strings.Split(*sizes, ",") {
		var nodes, pods int
		if _, err := fmt.Sscanf(strings.TrimSpace(sz), "%dx%d", &nodes, &pods); err != nil {
			b.Fatalf("-sizes %q: want NODESxPODS: %v", sz, err)
		}
		b.Run(fmt.Sprintf("%dNodes/%dPods", nodes, pods), func(b *testing.B) {
			var total float64
			for range b.N {
				f := schedulingBasic(b, nodes, pods)
				b.Log(f)
				total += f.podsPerSecond
			}
			b.ReportMetric(total/float64(b.N), "pods/s")
			b.ReportMetric(0, "ns/op") // the per-op time means nothing here
		})
	}
}

// TestSchedulingBasicSmoke keeps the harness working in `make test` with a
// size that takes a few seconds.
func TestSchedulingBasicSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an API server")
	}
	f := schedulingBasic(t, 50, 200)
	t.Log(f)
}
