// Command podstart measures how fast pods start: N pods of a cached image
// are created through the API (by C concurrent creators) on a one-node
// cluster — `skiff server` and `skiff agent` as separate processes — and
// each pod's time from its create call to Running as seen by a watch is
// recorded. It also reports the agent's resident memory idle and with the
// pods running. Needs root; everything runs in a network namespace the
// program makes and removes.
//
//	go build -o /tmp/skiff ./cmd/skiff && go run ./bench/podstart -skiff /tmp/skiff [-pods 200] [-creators 8] [-rate 10]
//
// With -rate the pods arrive at a steady pace (as in Kubernetes' density
// tests) and the latencies show one pod's start; without it they arrive at
// once and the latencies show the queue behind the node's throughput.
// It also prints CPU per pod of the agent, the server and the agent's
// supervisors and containers; -perf FILE records a system-wide profile of
// the measured span, -keep keeps the daemons' logs and audit log.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
)

func main() {
	bin := flag.String("skiff", "bin/skiff", "the skiff binary")
	pods := flag.Int("pods", 200, "pods to start")
	creators := flag.Int("creators", 8, "concurrent creators")
	rate := flag.Float64("rate", 0, "pods created per second (0: as fast as the creators go)")
	keep := flag.Bool("keep", false, "keep the daemons' logs and state directory (printed) instead of removing it")
	perfOut := flag.String("perf", "", "write a system-wide `perf record -a -g` profile of the measured span to this file")
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("podstart needs root (containers, namespaces, cgroups)")
	}
	// The program re-runs itself inside a network namespace of its own, so
	// the node's bridge and routes never touch the host.
	if ns := os.Getenv("SKIFF_BENCH_NETNS"); ns == "" {
		os.Exit(inNetNS())
	}
	res, err := run(context.Background(), *bin, *pods, *creators, *rate, *keep, *perfOut)
	if err != nil {
		log.Fatal(err)
	}
	res.print(os.Stdout)
}

func inNetNS() int {
	b := make([]byte, 4)
	rand.Read(b)
	ns := "skiffbench-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		log.Fatalf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").Run()
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + ns, "--", os.Args[0]}, os.Args[1:]...)...)
	cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdout, os.Stderr, append(os.Environ(), "SKIFF_BENCH_NETNS="+ns)
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
