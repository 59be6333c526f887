package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/controlplane"
)

// The servers run as processes of their own (this binary again, told its
// role by roleEnv), so their RSS and CPU are measured apart from the
// hollow nodes and the load: the control plane (API server with the watch
// cache, embedded etcd, scheduler, controllers), and two more API servers
// over the same etcd that serve only the benchmark's lists, one with the
// watch cache and one without: the same work for both, in processes of
// their own, so the comparison is fair and the cache's memory shows alone.
const (
	roleEnv          = "SKIFF_BENCH_SCALE_ROLE"
	roleControlPlane = "control-plane"
	roleDirectAPI    = "direct-api"
	roleCachedAPI    = "cached-api"
	dirEnv           = "SKIFF_BENCH_SCALE_DIR"
	etcdEnv          = "SKIFF_BENCH_SCALE_ETCD"
	heapEnv          = "SKIFF_BENCH_SCALE_HEAP_PROFILE"
	// cpuEnv names a directory: a server there writes a CPU profile of
	// the time between two SIGUSR2 (role-N.pprof).
	cpuEnv = "SKIFF_BENCH_SCALE_CPU_PROFILES"
	// memLimitEnv is GOMEMLIMIT for the control plane alone (the Go
	// runtime's soft memory limit, e.g. 1536MiB), to measure its effect.
	memLimitEnv = "SKIFF_BENCH_SCALE_CONTROL_PLANE_GOMEMLIMIT"
)

// cpuOnSignal profiles the process's CPU from one SIGUSR2 to the next,
// into dir/role-N.pprof.
func cpuOnSignal(ctx context.Context, dir, role string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR2)
	defer signal.Stop(sig)
	var f *os.File
	for n := 1; ; {
		select {
		case <-sig:
			if f != nil {
				pprof.StopCPUProfile()
				f.Close()
				f = nil
				continue
			}
			var err error
			if f, err = os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", role, n))); err != nil {
				continue
			}
			n++
			if pprof.StartCPUProfile(f) != nil {
				f.Close()
				f = nil
			}
		case <-ctx.Done():
			if f != nil {
				pprof.StopCPUProfile()
				f.Close()
			}
			return
		}
	}
}

// profile starts or stops the server's CPU profile (see cpuOnSignal).
func (s *server) profile() {
	if os.Getenv(cpuEnv) != "" {
		_ = s.cmd.Process.Signal(syscall.SIGUSR2)
	}
}

func heapOnSignal(ctx context.Context, path string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	for {
		select {
		case <-sig:
			if f, err := os.Create(path); err == nil {
				runtime.GC()
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
			// How RSS splits: the live heap, what the GC may let it
			// grow to, and what it holds but does not use.
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			// Live objects against the spans holding them: the difference
			// is room in spans that other objects' frees left.
			fmt.Printf("Go heap after a GC: live objects %s, in use %s, idle %s (returned to the OS %s), next GC at %s; runtime total %s\n",
				mib(int64(ms.HeapAlloc)), mib(int64(ms.HeapInuse)), mib(int64(ms.HeapIdle)), mib(int64(ms.HeapReleased)), mib(int64(ms.NextGC)), mib(int64(ms.Sys)))
		case <-ctx.Done():
			return
		}
	}
}

// serveRole runs this process as a server when roleEnv says so: it prints
// "ADDR ETCD-ENDPOINTS" once serving and stops when its stdin closes (the
// benchmark ended or died). ok is false when it is not a server.
func serveRole() (ok bool, err error) {
	role := os.Getenv(roleEnv)
	if role == "" {
		return false, nil
	}
	switch role {
	case roleLister:
		return true, runLister()
	case roleCLI:
		return true, runCLI()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	g, gctx := errgroup.WithContext(ctx)
	dir := os.Getenv(dirEnv)
	quiet := slog.New(slog.DiscardHandler)
	if d := os.Getenv(cpuEnv); d != "" {
		go cpuOnSignal(ctx, d, role)
	}
	switch role {
	case roleControlPlane:
		if path := os.Getenv(heapEnv); path != "" {
			// SIGUSR1 writes a heap profile: where the server's memory is.
			go heapOnSignal(ctx, path)
		}
		reg := prometheus.NewRegistry()
		// At the end, how the lists were served, and the watches that
		// fell behind or went to etcd (the in-process informers' too).
		defer printMetrics(reg, "skiff_apiserver_watch_cache_list", "skiff_apiserver_watch_cache_slow", "skiff_apiserver_watch_cache_direct")
		cp, err := controlplane.Start(gctx, g, controlplane.Config{
			DataDir: dir, Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0",
			// A /24 per node: room for 65,536 nodes.
			ClusterCIDR: "10.0.0.0/8", ClusterDomain: "cluster.local", Insecure: true,
			Metrics: reg, Logger: quiet,
		})
		if err != nil {
			return true, err
		}
		if cp == nil {
			return true, errors.New("the control plane did not start")
		}
		fmt.Printf("%s %s\n", cp.Addr(), strings.Join(cp.EtcdEndpoints(), ","))
	case roleDirectAPI, roleCachedAPI:
		reg := prometheus.NewRegistry()
		defer printMetrics(reg, "skiff_apiserver_watch_cache_list")
		// Over TLS, as kubectl reaches an API server.
		creds, err := servingTLS(os.Getenv(pkiEnv))
		if err != nil {
			return true, err
		}
		s, err := apiserver.New(apiserver.Config{
			DataDir: dir, Listen: "127.0.0.1:0", EtcdEndpoints: strings.Split(os.Getenv(etcdEnv), ","),
			ClusterCIDR: "10.0.0.0/8", DisableWatchCache: role == roleDirectAPI, Logger: quiet, Registerer: reg,
			GRPCOptions: []grpc.ServerOption{creds},
		})
		if err != nil {
			return true, err
		}
		g.Go(func() error { return s.Run(gctx) })
		select {
		case <-s.Ready():
		case <-gctx.Done():
			return true, g.Wait()
		}
		fmt.Printf("%s -\n", s.Addr())
	default:
		return true, fmt.Errorf("%s=%q: not a role", roleEnv, role)
	}
	<-gctx.Done()
	cancel()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return true, err
	}
	return true, nil
}

// printMetrics prints the counters whose names start with one of
// prefixes, one "name{labels} value" a line.
func printMetrics(reg *prometheus.Registry, prefixes ...string) {
	families, err := reg.Gather()
	if err != nil {
		return
	}
	for _, f := range families {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(f.GetName(), p) }) {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			fmt.Printf("%s{%s} %g\n", f.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue())
		}
	}
}

// server is a server process the benchmark started.
type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	etcd  []string
	done  chan error
	once  sync.Once
	// said is what it printed after its address, once stopped.
	said []string
}

// startServer runs this binary as role with dir (and the list servers
// with certificates of the CA in tlsDir), waiting for its address.
func startServer(role, dir, tlsDir string, etcd []string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"="+role, dirEnv+"="+dir, etcdEnv+"="+strings.Join(etcd, ","), pkiEnv+"="+tlsDir)
	if l := os.Getenv(memLimitEnv); l != "" && role == roleControlPlane {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+l)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- l
		var said []string
		for {
			l, err := r.ReadString('\n')
			if l = strings.TrimSpace(l); l != "" {
				said = append(said, l)
			}
			if err != nil {
				break
			}
		}
		s.said = said
		s.done <- cmd.Wait()
	}()
	select {
	case l := <-line:
		f := strings.Fields(l)
		if len(f) != 2 {
			s.stop()
			return nil, fmt.Errorf("%s: did not start (said %q)", role, l)
		}
		s.addr = f[0]
		if f[1] != "-" {
			s.etcd = strings.Split(f[1], ",")
		}
		return s, nil
	case <-time.After(2 * time.Minute):
		s.stop()
		return nil, fmt.Errorf("%s: no address after 2 minutes", role)
	}
}

// stop closes the server's stdin, which ends it, and waits; it is killed
// (by its PID) if it does not end in 30 s.
func (s *server) stop() {
	s.once.Do(func() {
		s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}
