package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/client/nodelease"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type options struct {
	nodes, pods, perRS int
	lists, gets        int
	watchers, events   int
	heartbeat          time.Duration
	// nodeWrites makes hollow nodes beat the old way, writing their
	// Node's status every beat instead of renewing a Lease, to compare.
	nodeWrites bool
	// steady is how long heartbeats alone are measured, before any pod.
	steady  time.Duration
	noFsync bool
	// skiff are the binaries whose `get pods -A` is timed (none: this
	// one as the command line).
	skiff []string
}

func run(out io.Writer, o options) error {
	if o.nodes < 1 || o.pods < 1 || o.perRS < 1 {
		return errors.New("-nodes, -pods and -per-rs must be positive")
	}
	dir, err := os.MkdirTemp("", "skiff-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tlsDir := filepath.Join(dir, "pki")
	if err := listTLS(tlsDir); err != nil {
		return err
	}
	tc, err := clientTLS(tlsDir)
	if err != nil {
		return err
	}
	cp, err := startServer(roleControlPlane, filepath.Join(dir, "server"), tlsDir, nil)
	if err != nil {
		return err
	}
	defer cp.stop()
	direct, err := startServer(roleDirectAPI, filepath.Join(dir, "server"), tlsDir, cp.etcd)
	if err != nil {
		return err
	}
	defer direct.stop()
	cached, err := startServer(roleCachedAPI, filepath.Join(dir, "server"), tlsDir, cp.etcd)
	if err != nil {
		return err
	}
	defer cached.stop()
	lister, err := startLister(tlsDir)
	if err != nil {
		return err
	}
	defer lister.stop()
	bins := o.skiff
	if len(bins) == 0 {
		bins = []string{""}
	}
	var getPods []*cliGet
	for _, bin := range bins {
		g, err := newCLIGet(bin, dir, tlsDir, cached.addr)
		if err != nil {
			return err
		}
		getPods = append(getPods, g)
	}
	// The benchmark's List calls of pods timed one by one: the pages.
	pt := &pageTimer{}
	timed := []grpc.DialOption{pt.dialOption(), bigLists}
	dial := func() (*client.Client, error) { return client.New(cp.addr, client.Options{}) }
	c, err := client.New(cp.addr, client.Options{DialOptions: timed})
	if err != nil {
		return err
	}
	defer c.Close()
	dc, err := client.New(direct.addr, client.Options{TLS: tc, DialOptions: timed})
	if err != nil {
		return err
	}
	defer dc.Close()
	cc, err := client.New(cached.addr, client.Options{TLS: tc, DialOptions: timed})
	if err != nil {
		return err
	}
	defer cc.Close()
	cpuStart, serverCPUStart := procCPU(os.Getpid()), procCPU(cp.cmd.Process.Pid)
	fmt.Fprintf(out, "hollow nodes %d, pods %d (replica sets of %d), heartbeat every %s\n", o.nodes, o.pods, o.perRS, o.heartbeat)

	// Hollow nodes: registered, then heartbeating until the end.
	start := time.Now()
	if err := registerNodes(ctx, c, o.nodes); err != nil {
		return err
	}
	fmt.Fprintf(out, "registered %d nodes in %s\n", o.nodes, time.Since(start).Round(time.Millisecond))
	var beats, writes, failed atomic.Int64
	hctx, stopBeats := context.WithCancel(ctx)
	defer stopBeats()
	var hb sync.WaitGroup
	uids := map[string]string{}
	if !o.nodeWrites {
		nodes, _, err := c.Nodes().List(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		for _, n := range nodes {
			uids[n.GetMetadata().GetName()] = n.GetMetadata().GetUid()
		}
	}
	hollow := make([]*hollowNode, o.nodes)
	for i := range hollow {
		hollow[i] = &hollowNode{c: c, name: nodeName(i), every: o.heartbeat, nodeWrites: o.nodeWrites, beats: &beats, writes: &writes, failed: &failed}
		if !o.nodeWrites {
			hollow[i].lease = nodelease.New(c, hollow[i].name, uids[hollow[i].name])
		}
	}
	if !o.nodeWrites {
		// Each agent makes its Lease when it starts; here they all start
		// at once, so make them 32 at a time, as the Nodes, and measure
		// the renewals alone.
		start := time.Now()
		lg, lctx := errgroup.WithContext(ctx)
		lg.SetLimit(32)
		for _, h := range hollow {
			lg.Go(func() error { return h.lease.Renew(lctx, time.Now()) })
		}
		if err := lg.Wait(); err != nil {
			return err
		}
		fmt.Fprintf(out, "made %d Leases in %s\n", o.nodes, time.Since(start).Round(time.Millisecond))
	}
	beatStart := time.Now()
	for _, h := range hollow {
		hb.Add(1)
		go func() { defer hb.Done(); h.run(hctx) }()
	}
	if o.steady > 0 {
		if err := steadyState(ctx, out, c, o, &beats, &writes, &failed); err != nil {
			return err
		}
	}

	// Pods through replica sets; the scheduler binds them.
	bound, err := countBound(ctx, c)
	if err != nil {
		return err
	}
	start = time.Now()
	timeouts := 0
	for i := 0; i*o.perRS < o.pods; i++ {
		n := min(o.perRS, o.pods-i*o.perRS)
		for attempt := 0; ; attempt++ {
			_, err := c.ReplicaSets().Create(ctx, replicaSet(i, n))
			if err == nil || (attempt > 0 && client.IsAlreadyExists(err)) {
				break
			}
			// A loaded server times out; count it and try again.
			if code := status.Code(err); (code != codes.DeadlineExceeded && code != codes.Unavailable) || attempt == 5 {
				return fmt.Errorf("replica set %d: %w", i, err)
			}
			timeouts++
		}
	}
	if timeouts > 0 {
		fmt.Fprintf(out, "replica set creates that timed out and were retried: %d\n", timeouts)
	}
	if err := bound.wait(ctx, o.pods, 30*time.Minute); err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(out, "scheduled %d pods in %s: %.0f pods/s (created by the replica set controller, bound by the scheduler)\n",
		o.pods, took.Round(time.Millisecond), float64(o.pods)/took.Seconds())

	// Full lists, from the watch cache and from etcd (the second server),
	// taken in turn so both meet the same load: in pages of the client's
	// default size, and in one request.
	listCPU := procCPU(cached.cmd.Process.Pid)
	listStart := time.Now()
	// Profiled apart: the first round of lists (just after the burst of
	// binds, in the cached list server and the control plane) and the
	// rest (the cached list server).
	cached.profile()
	cp.profile()
	lister.profile()
	stopSelf := profileSelf("bench-1")
	afterFirst := func() {
		cached.profile()
		cp.profile()
		lister.profile()
		stopSelf()
		// Two signals close together may arrive as one.
		time.Sleep(time.Second)
		cached.profile()
		lister.profile()
		stopSelf = profileSelf("bench-2")
	}
	if err := timeLists(ctx, out, c, cc, dc, pt, lister, getPods, cached.addr, o, afterFirst); err != nil {
		return err
	}
	cached.profile()
	lister.profile()
	stopSelf()
	fmt.Fprintf(out, "API server with watch cache during the lists: CPU %.1f s in %s\n",
		(procCPU(cached.cmd.Process.Pid) - listCPU).Seconds(), time.Since(listStart).Round(time.Second))
	names, err := podNames(ctx, c)
	if err != nil {
		return err
	}
	// Each pod read from the control plane's API server and, to tell its
	// own part from etcd's (which runs in the control plane's process), from
	// the cached list server, whose reads go to that etcd over gRPC.
	lat := make([]time.Duration, 0, o.gets)
	viaList := make([]time.Duration, 0, o.gets)
	getLoad, getCPU, getStart := loadAverage(), procCPU(cp.cmd.Process.Pid), time.Now()
	cp.profile()
	for range o.gets {
		p := names[rand.IntN(len(names))]
		t0 := time.Now()
		if _, err := c.Pods().Get(ctx, "default", p); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
		t0 = time.Now()
		if _, err := cc.Pods().Get(ctx, "default", p); err != nil {
			return err
		}
		viaList = append(viaList, time.Since(t0))
	}
	cp.profile()
	fmt.Fprintf(out, "get pod: %s\n", percentiles(lat))
	fmt.Fprintf(out, "  the same pods from the cached list server (etcd over gRPC): %s\n", percentiles(viaList))
	fmt.Fprintf(out, "  load average %s at the start; control plane CPU %.1f s in %s\n", getLoad,
		(procCPU(cp.cmd.Process.Pid) - getCPU).Seconds(), time.Since(getStart).Round(time.Millisecond))

	if o.watchers > 0 {
		d, err := fanOut(ctx, dial, o.watchers, o.events)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "watch fan-out to %d watchers (%d changes): %s\n", o.watchers, o.events, percentiles(d))
	}

	stopBeats()
	hb.Wait()
	elapsed := time.Since(beatStart)
	fmt.Fprintf(out, "heartbeats over the whole run: %d beats (%s) in %s, %.1f/s, %.1f writes/s, %d failed\n", beats.Load(), beatKind(o),
		elapsed.Round(time.Second), float64(beats.Load())/elapsed.Seconds(), float64(writes.Load())/elapsed.Seconds(), failed.Load())
	pid := cp.cmd.Process.Pid
	if path := os.Getenv(heapEnv); path != "" {
		// The server writes it (see heapOnSignal): a GC and a profile of
		// a heap of gigabytes take a while on a busy machine.
		_ = os.Remove(path) // not an older run's
		_ = cp.cmd.Process.Signal(syscall.SIGUSR1)
		waitWritten(path, 2*time.Minute)
	}
	fmt.Fprintf(out, "control plane process (API server with watch cache, etcd, scheduler, controllers): RSS %s (peak %s), CPU %.1f s over %s\n",
		mib(procStatus(pid, "VmRSS")), mib(procStatus(pid, "VmHWM")), (procCPU(pid) - serverCPUStart).Seconds(), elapsed.Round(time.Second))
	fmt.Fprintf(out, "API server with watch cache (the benchmark's lists only): RSS %s (peak %s)\n",
		mib(procStatus(cached.cmd.Process.Pid, "VmRSS")), mib(procStatus(cached.cmd.Process.Pid, "VmHWM")))
	fmt.Fprintf(out, "API server without watch cache (the benchmark's lists only): RSS %s (peak %s)\n",
		mib(procStatus(direct.cmd.Process.Pid, "VmRSS")), mib(procStatus(direct.cmd.Process.Pid, "VmHWM")))
	fmt.Fprintf(out, "list client process: RSS %s (peak %s), CPU %.1f s\n",
		mib(procStatus(lister.cmd.Process.Pid, "VmRSS")), mib(procStatus(lister.cmd.Process.Pid, "VmHWM")), procCPU(lister.cmd.Process.Pid).Seconds())
	fmt.Fprintf(out, "benchmark process (hollow nodes, load): RSS %s, CPU %.1f s\n", mib(procStatus(os.Getpid(), "VmRSS")), (procCPU(os.Getpid()) - cpuStart).Seconds())
	if fi, err := os.Stat(filepath.Join(dir, "server", "etcd", "member", "snap", "db")); err == nil {
		fmt.Fprintf(out, "etcd database: %s\n", mib(fi.Size()))
	}
	lister.stop()
	direct.stop()
	cached.stop()
	cp.stop()
	for _, l := range cp.said {
		fmt.Fprintf(out, "control plane: %s\n", l)
	}
	for _, l := range cached.said {
		fmt.Fprintf(out, "API server with watch cache: %s\n", l)
	}
	return nil
}

// steadyState measures the heartbeats alone for o.steady, after one
// interval for every node to have started: beats achieved against those
// due (a control plane that keeps up serves them all), etcd's write rate
// (revisions per second), and single-object read and write latencies
// under that load.
func steadyState(ctx context.Context, out io.Writer, c *client.Client, o options, beats, writes, failed *atomic.Int64) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(o.heartbeat + time.Second):
	}
	cm, err := c.ConfigMaps().Create(ctx, &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: "probe", Namespace: "default"}})
	if err != nil {
		return err
	}
	rev0, err := revision(ctx, c)
	if err != nil {
		return err
	}
	b0, w0, f0, t0 := beats.Load(), writes.Load(), failed.Load(), time.Now()
	var gets, puts []time.Duration
	for i := 0; time.Since(t0) < o.steady; i++ {
		g := time.Now()
		if _, err := c.Nodes().Get(ctx, "", nodeName(rand.IntN(o.nodes))); err != nil {
			return fmt.Errorf("probe read: %w", err)
		}
		gets = append(gets, time.Since(g))
		next := proto.Clone(cm).(*skiffv1.ConfigMap)
		next.Data = map[string]string{"i": strconv.Itoa(i)}
		p := time.Now()
		if cm, err = c.ConfigMaps().Update(ctx, next); err != nil {
			return fmt.Errorf("probe write: %w", err)
		}
		puts = append(puts, time.Since(p))
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(t0)
	rev1, err := revision(ctx, c)
	if err != nil {
		return err
	}
	due := float64(o.nodes) / o.heartbeat.Seconds()
	got := float64(beats.Load()-b0) / took.Seconds()
	fmt.Fprintf(out, "steady heartbeats (%s), %s: %.0f beats/s of %.0f due (%.0f %%), %.0f heartbeat writes/s, %d failed; etcd %.0f writes/s\n",
		beatKind(o), took.Round(time.Second), got, due, 100*got/due, float64(writes.Load()-w0)/took.Seconds(), failed.Load()-f0,
		float64(rev1-rev0)/took.Seconds())
	if failed.Load() > f0 {
		fmt.Fprintf(out, "  failed beats: %s\n", failures)
	}
	fmt.Fprintf(out, "  under that load, get node: %s\n", percentiles(gets))
	fmt.Fprintf(out, "  under that load, update configmap: %s\n", percentiles(puts))
	return nil
}

// revision is etcd's current revision: each write raises it by one.
func revision(ctx context.Context, c *client.Client) (int64, error) {
	_, rv, err := c.Namespaces().List(ctx, client.ListOptions{})
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(rv, 10, 64)
}

func replicaSet(i, replicas int) *skiffv1.ReplicaSet {
	labels := map[string]string{"app": "rs-" + strconv.Itoa(i)}
	n := int32(replicas)
	return &skiffv1.ReplicaSet{
		Metadata: &skiffv1.ObjectMeta{Name: "rs-" + strconv.Itoa(i), Namespace: "default"},
		Spec: &skiffv1.ReplicaSetSpec{
			Replicas: &n, Selector: &skiffv1.LabelSelector{MatchLabels: labels},
			Template: &skiffv1.PodTemplateSpec{
				Metadata: &skiffv1.ObjectMeta{Labels: labels},
				Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
					Name: "c", Image: "busybox",
					Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "10m", "memory": "16Mi"}},
				}}},
			},
		},
	}
}

// boundCounter follows the pods bound to a node.
type boundCounter struct {
	mu    sync.Mutex
	bound map[string]bool
	wake  chan struct{}
	err   error
}

func countBound(ctx context.Context, c *client.Client) (*boundCounter, error) {
	b := &boundCounter{bound: map[string]bool{}, wake: make(chan struct{}, 1)}
	w, err := c.Pods().Watch(ctx, client.ListOptions{}, "")
	if err != nil {
		return nil, err
	}
	go func() {
		defer w.Stop()
		for {
			ev, err := w.Next()
			b.mu.Lock()
			if err != nil {
				b.err = err
			} else if ev.Object != nil && ev.Object.GetSpec().GetNodeName() != "" {
				b.bound[ev.Object.GetMetadata().GetName()] = true
			}
			b.mu.Unlock()
			select {
			case b.wake <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return b, nil
}

func (b *boundCounter) wait(ctx context.Context, n int, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		b.mu.Lock()
		got, err := len(b.bound), b.err
		b.mu.Unlock()
		if got >= n {
			return nil
		}
		if err != nil {
			return fmt.Errorf("watching pods (%d of %d bound): %w", got, n, err)
		}
		select {
		case <-b.wake:
		case <-deadline:
			return fmt.Errorf("%d of %d pods bound after %s", got, n, limit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func podNames(ctx context.Context, c *client.Client) ([]string, error) {
	pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.GetMetadata().GetName())
	}
	return names, nil
}

// profileSelf profiles the benchmark's own process (hollow nodes,
// watchers and the in-process list client) into name.pprof in the
// profiles' directory, until the function returned is called.
func profileSelf(name string) (stop func()) {
	dir := os.Getenv(cpuEnv)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return func() {}
	}
	if pprof.StartCPUProfile(f) != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// waitWritten waits, up to limit, for the file at path to be non-empty
// and the same size for a second.
func waitWritten(path string, limit time.Duration) {
	var last int64 = -1
	for end := time.Now().Add(limit); time.Now().Before(end); {
		time.Sleep(time.Second)
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		if fi.Size() > 0 && fi.Size() == last {
			return
		}
		last = fi.Size()
	}
}
