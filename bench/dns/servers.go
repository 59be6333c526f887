package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/skiff-sh/skiff/dnsserver"
)

// Each server runs in a process of its own, so none shares a Go runtime
// with the load generator or with another server.

// serveRole runs one server inside this (child) process, prints
// "ADDR host:port" once it answers, and stops when stdin closes or on
// SIGTERM.
func serveRole(role string, nSvc, nPods, udpWorkers int) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { // the parent holds our stdin: its end is ours
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	svcs := services(nSvc, nPods)
	switch role {
	case "skiff":
		b := dnsserver.NewMemoryBackend()
		for _, s := range svcs {
			b.SetService(s)
		}
		s, err := dnsserver.New(dnsserver.Config{Backend: b, Listen: "127.0.0.1:0", Upstreams: []string{}, UDPWorkers: udpWorkers,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		select {
		case <-s.Ready():
		case err := <-done:
			return err
		}
		fmt.Printf("ADDR %s\n", s.Addr())
		return <-done
	case "naive":
		return naiveServer(ctx, svcs)
	}
	return fmt.Errorf("unknown role %q", role)
}

// naiveServer is the floor: miekg/dns's own server with a map of answers
// built in advance, copied per query: what a DNS server costs with no
// work of its own.
func naiveServer(ctx context.Context, svcs []dnsserver.Service) error {
	answers := map[string][]dns.RR{}
	for _, s := range svcs {
		for _, ep := range s.Endpoints {
			answers[fqdn(s)] = append(answers[fqdn(s)], &dns.A{
				Hdr: dns.RR_Header{Name: fqdn(s), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: ep.IP.AsSlice()})
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if len(q.Question) == 1 {
			if rrs, ok := answers[strings.ToLower(q.Question[0].Name)]; ok && q.Question[0].Qtype == dns.TypeA {
				m.Answer = rrs
			} else {
				m.Rcode = dns.RcodeNameError
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown()
	}()
	fmt.Printf("ADDR %s\n", pc.LocalAddr())
	return srv.ActivateAndServe()
}

// child is a server process started by the benchmark.
type child struct {
	name  string
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func (c *child) stop() {
	_ = c.stdin.Close()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// startRole re-executes this binary in a server role and waits for its
// address.
func startRole(role string, nSvc, nPods, udpWorkers int) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-role", role, "-services", fmt.Sprint(nSvc), "-pods", fmt.Sprint(nPods), "-udp-workers", fmt.Sprint(udpWorkers))
	return startChild(role, cmd, func(line string) (string, bool) {
		return strings.CutPrefix(line, "ADDR ")
	})
}

// startCoreDNS runs CoreDNS's file plugin on the zone, on a free port.
func startCoreDNS(bin, dir, zone string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	corefile := filepath.Join(dir, "Corefile")
	conf := fmt.Sprintf("cluster.local.:%d {\n    bind 127.0.0.1\n    file %s\n}\n", port, zone)
	if err := os.WriteFile(corefile, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-conf", corefile)
	cmd.Dir = dir
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := startChild("coredns", cmd, func(line string) (string, bool) {
		return addr, strings.Contains(line, "CoreDNS-")
	})
	if err != nil {
		return nil, err
	}
	// Its banner comes before the zone is loaded: wait for an answer.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := new(dns.Msg)
		m.SetQuestion("svc-0.bench.svc.cluster.local.", dns.TypeA)
		resp, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, addr)
		if err == nil && len(resp.Answer) > 0 {
			return c, nil
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("coredns does not answer on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startChild(name string, cmd *exec.Cmd, ready func(line string) (string, bool)) (*child, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if addr, ok := ready(sc.Text()); ok && !sent {
				found <- addr
				sent = true
			}
		}
	}()
	select {
	case c.addr = <-found:
		return c, nil
	case <-time.After(60 * time.Second):
		c.stop()
		return nil, fmt.Errorf("%s did not start within 60s", name)
	}
}

func freePort() (int, error) {
	for try := 0; try < 10; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

func numCPU() int { return runtime.GOMAXPROCS(0) }
