package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dns:", err)
		os.Exit(1)
	}
}

type target struct {
	name string
	c    *child
}

func run() error {
	role := flag.String("role", "", "internal: run one server (skiff or naive) in this process")
	nSvc := flag.Int("services", 1000, "services to load")
	nPods := flag.Int("pods", 10, "ready pods per service")
	d := flag.Duration("duration", 8*time.Second, "length of each load run")
	rounds := flag.Int("rounds", 2, "rounds over all servers (servers alternate within a round)")
	workers := flag.Int("workers", 4, "Go load generator: concurrent workers, one query in flight each")
	maxQueries := flag.Int("max-queries", 2_000_000, "Go load generator: stop after this many queries")
	clients := flag.Int("dnsperf-clients", 4, "dnsperf -c")
	udpWorkers := flag.Int("udp-workers", 0, "skiff: UDP reading goroutines (0: its default)")
	coredns := flag.String("coredns", "", "CoreDNS binary (default: coredns in PATH or $GOPATH/bin)")
	flag.Parse()
	if *role != "" {
		return serveRole(*role, *nSvc, *nPods, *udpWorkers)
	}

	dir, err := os.MkdirTemp("", "bench-dns-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	svcs := services(*nSvc, *nPods)
	zone, queries := filepath.Join(dir, "db.cluster.local"), filepath.Join(dir, "queries.txt")
	if err := writeZone(zone, svcs); err != nil {
		return err
	}
	if err := writeQueries(queries, svcs); err != nil {
		return err
	}
	names := make([]string, len(svcs))
	for i, s := range svcs {
		names[i] = fqdn(s)
	}

	var targets []target
	defer func() {
		for _, t := range targets {
			t.c.stop()
		}
	}()
	skiff, err := startRole("skiff", *nSvc, *nPods, *udpWorkers)
	if err != nil {
		return err
	}
	targets = append(targets, target{"skiff", skiff})
	if bin := findCoreDNS(*coredns); bin != "" {
		c, err := startCoreDNS(bin, dir, zone)
		if err != nil {
			return err
		}
		targets = append(targets, target{"coredns", c})
	} else {
		fmt.Println("CoreDNS binary not found: build it with `cd \"$(mktemp -d)\" && go install github.com/coredns/coredns@v1.15.0`, or pass -coredns; comparing against the naive miekg server only")
	}
	naive, err := startRole("naive", *nSvc, *nPods, 0)
	if err != nil {
		return err
	}
	targets = append(targets, target{"naive-miekg", naive})

	dnsperf, _ := exec.LookPath("dnsperf")
	fmt.Printf("%d services × %d ready pods; %d rounds of %v per server and tool; GOMAXPROCS per process = %d cores\n\n",
		*nSvc, *nPods, *rounds, *d, numCPU())
	fmt.Printf("%-5s %-12s %-22s %10s %9s %9s %9s %9s %7s\n", "round", "server", "load", "qps", "avg", "p50", "p99", "p99.9", "lost")
	type key struct{ server, tool string }
	runs := map[key][]result{}
	for round := 1; round <= *rounds; round++ {
		for _, t := range targets {
			if dnsperf != "" {
				tool := fmt.Sprintf("dnsperf -c %d", *clients)
				r, err := runDNSPerf(dnsperf, t.c.addr, queries, *clients, *d)
				if err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				runs[key{t.name, tool}] = append(runs[key{t.name, tool}], r)
				printRow(round, t.name, tool, r)
			}
			tool := fmt.Sprintf("go closed-loop x%d", *workers)
			r, err := loadgen(t.c.addr, names, *workers, *d, *maxQueries)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			runs[key{t.name, tool}] = append(runs[key{t.name, tool}], r)
			printRow(round, t.name, tool, r)
		}
	}

	fmt.Println("\nbest of rounds:")
	tools := []string{fmt.Sprintf("go closed-loop x%d", *workers)}
	if dnsperf != "" {
		tools = append([]string{fmt.Sprintf("dnsperf -c %d", *clients)}, tools...)
	}
	for _, tool := range tools {
		best := map[string]result{}
		for _, t := range targets {
			rs := runs[key{t.name, tool}]
			b := slices.MaxFunc(rs, func(a, b result) int { return int(a.qps() - b.qps()) })
			best[t.name] = b
			printRow(0, t.name, tool, b)
		}
		for _, ref := range []string{"coredns", "naive-miekg"} {
			if r, ok := best[ref]; ok {
				fmt.Printf("      skiff / %-11s %-22s %9.2fx qps\n", ref, tool, best["skiff"].qps()/r.qps())
			}
		}
	}
	return nil
}

func printRow(round int, server, tool string, r result) {
	rs := fmt.Sprint(round)
	if round == 0 {
		rs = "best"
	}
	p := func(v time.Duration) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3fms", float64(v)/1e6)
	}
	fmt.Printf("%-5s %-12s %-22s %10.0f %9s %9s %9s %9s %7d\n", rs, server, tool, r.qps(), p(r.mean()),
		p(r.pct(0.50)), p(r.pct(0.99)), p(r.pct(0.999)), r.lost)
}

func findCoreDNS(flagged string) string {
	if flagged != "" {
		return flagged
	}
	if p, err := exec.LookPath("coredns"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "coredns")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
