package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/image/build"
	"github.com/skiff-sh/skiff/nodeagent/teardown"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type results struct {
	pods       int
	latencies  []time.Duration
	elapsed    time.Duration
	rssIdle    int64
	rssHalf    int64
	rssAll     int64
	serverRSS  int64
	halfPoints int
	// Agent CPU from the first create to all Running; PSS of the agent
	// and the sum of its supervisors' at halfPoints and at pods Running.
	agentCPU float64
	// CPU of the server (API, etcd, scheduler, controllers) over the same
	// span, and of the agent's live descendants (supervisors and the
	// containers' processes, inits included) at the end.
	serverCPU             float64
	childrenCPU           float64
	children              int
	agentPSSHalf          int64
	agentPSSAll           int64
	supPSSHalf, supPSSAll int64
	supsHalf, supsAll     int
}

func (r results) print(w io.Writer) {
	l := r.latencies
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	pct := func(p int) time.Duration { return l[min(len(l)-1, len(l)*p/100)] }
	fmt.Fprintf(w, "pods: %d, all Running after %s (%.0f pods/s)\n", r.pods, r.elapsed.Round(time.Millisecond), float64(r.pods)/r.elapsed.Seconds())
	fmt.Fprintf(w, "create → Running (watch): p50 %s  p90 %s  p99 %s  max %s\n",
		pct(50).Round(time.Millisecond), pct(90).Round(time.Millisecond), pct(99).Round(time.Millisecond), l[len(l)-1].Round(time.Millisecond))
	fmt.Fprintf(w, "agent RSS: idle %s, %d pods %s, %d pods %s; server RSS at the end %s\n",
		mib(r.rssIdle), r.halfPoints, mib(r.rssHalf), r.pods, mib(r.rssAll), mib(r.serverRSS))
	fmt.Fprintf(w, "agent CPU: %.1f ms per pod started (%.2f s for %d pods)\n", r.agentCPU*1000/float64(r.pods), r.agentCPU, r.pods)
	fmt.Fprintf(w, "server CPU: %.1f ms per pod started (%.2f s); supervisors and containers: %.1f ms per pod (%.2f s, %d processes)\n",
		r.serverCPU*1000/float64(r.pods), r.serverCPU, r.childrenCPU*1000/float64(r.pods), r.childrenCPU, r.children)
	fmt.Fprintf(w, "PSS at %d pods: agent %s + %d supervisors %s = %s\n", r.halfPoints, mib(r.agentPSSHalf), r.supsHalf, mib(r.supPSSHalf), mib(r.agentPSSHalf+r.supPSSHalf))
	fmt.Fprintf(w, "PSS at %d pods: agent %s + %d supervisors %s = %s\n", r.pods, mib(r.agentPSSAll), r.supsAll, mib(r.supPSSAll), mib(r.agentPSSAll+r.supPSSAll))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// process is one skiff daemon started for the benchmark.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start(logPath, bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// rss reads a process's resident set size.
func rss(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freePort() string {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().String()
}

func run(ctx context.Context, bin string, pods, creators int, rate float64, keep bool, perfOut string) (results, error) {
	dir, err := os.MkdirTemp("", "skiff-podstart-")
	if err != nil {
		return results{}, err
	}
	if keep {
		fmt.Printf("logs and state kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// The agent makes its run directory a tmpfs, which outlives it.
	defer teardown.UnmountUnder(filepath.Join(dir, "run"))
	api, registry := freePort(), freePort()
	cfgPath := filepath.Join(dir, "client", "config")
	server, err := start(filepath.Join(dir, "server.log"), bin, "server", "--data-dir", filepath.Join(dir, "server"), "--listen", api,
		"--etcd-listen", freePort(), "--registry-addr", registry, "--metrics-addr", "", "--dashboard-addr", "", "--write-config", cfgPath)
	if err != nil {
		return results{}, err
	}
	defer server.stop()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := adminClient(wctx, cfgPath)
	if err != nil {
		return results{}, err
	}
	defer c.Close()
	if err := c.WaitReady(wctx); err != nil {
		return results{}, err
	}
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		return results{}, err
	}
	image := registry + "/busybox:bench"
	// The registry serves TLS with the server's certificate.
	transport, err := client.RegistryTransport(cfgPath)
	if err != nil {
		return results{}, err
	}
	if _, err := (build.Remote{Transport: transport}).Push(wctx, img, image, nil); err != nil {
		return results{}, err
	}
	// The agent's pods live under skiff's default parent cgroup, which it
	// leaves behind as every agent does: remove it after, if it was not
	// there before (and is empty).
	if len(teardown.CgroupParents()) == 0 {
		defer teardown.RemoveEmptyCgroupParents(func(string) {})
	}
	agent, err := start(filepath.Join(dir, "agent.log"), bin, "agent", "--server", api, "--node-name", "bench", "--data-dir", filepath.Join(dir, "agent"),
		"--run-dir", filepath.Join(dir, "run"), "--agent-listen", freePort(), "--max-pods", strconv.Itoa(pods+10), "--metrics-addr", "",
		"--token-file", filepath.Join(dir, "server", "token"))
	if err != nil {
		return results{}, err
	}
	defer agent.stop()
	// Before the agent stops: it tears the pods down.
	defer cleanup(c, filepath.Join(dir, "agent", "runtime", "containers"))
	if err := waitNode(wctx, c); err != nil {
		return results{}, err
	}
	// Pull the image once, so every measured pod starts from the cache.
	if err := warm(ctx, c, image); err != nil {
		return results{}, err
	}
	time.Sleep(2 * time.Second)
	apid := agent.cmd.Process.Pid
	r := results{pods: pods, rssIdle: rss(apid), halfPoints: pods / 2}
	spid := server.cmd.Process.Pid
	cpu0, scpu0 := cpuSeconds(apid), cpuSeconds(spid)
	ccpu0, _ := descendantsCPU(apid)
	stopPerf, err := startPerf(perfOut)
	if err != nil {
		return results{}, err
	}
	if perfOut != "" {
		// The profile's processes by name: both daemons run as the skiff
		// binary, supervisors as skiff-shim-<hash>, inits as exe (the shim
		// re-executed through /proc/self/exe) until they exec the workload.
		fmt.Printf("profile: server pid %d, agent pid %d (split with `perf script -F comm,pid,ip,sym`)\n", spid, apid)
	}
	r.latencies, r.elapsed, err = measure(ctx, c, image, pods, creators, rate, func(running int) {
		if running == pods/2 {
			r.rssHalf = rss(apid)
			r.agentPSSHalf = pss(apid)
			r.supPSSHalf, r.supsHalf = supervisorPSS(apid)
		}
	})
	stopPerf()
	r.agentCPU, r.serverCPU = cpuSeconds(apid)-cpu0, cpuSeconds(spid)-scpu0
	r.childrenCPU, r.children = descendantsCPU(apid)
	r.childrenCPU -= ccpu0
	if err != nil {
		return r, err
	}
	time.Sleep(2 * time.Second)
	r.rssAll = rss(apid)
	r.agentPSSAll = pss(apid)
	r.supPSSAll, r.supsAll = supervisorPSS(apid)
	r.serverRSS = rss(server.cmd.Process.Pid)
	return r, nil
}

func benchPod(name, image string) *skiffv1.Pod {
	grace := int64(0)
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "podstart"}},
		Spec: &skiffv1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []*skiffv1.Container{{
				Name: "main", Image: image, Command: []string{"sleep", "3600"},
				Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "1m", "memory": "4Mi"}},
			}},
		},
	}
}

func waitNode(ctx context.Context, c *client.Client) error {
	for ctx.Err() == nil {
		if n, err := c.Nodes().Get(ctx, "", "bench"); err == nil && n.Spec.GetPodCidr() != "" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the agent did not register: %w", ctx.Err())
}

func warm(ctx context.Context, c *client.Client, image string) error {
	if _, err := c.Pods().Create(ctx, benchPod("warm", image)); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if p, err := c.Pods().Get(ctx, "default", "warm"); err == nil && p.Status.GetPhase() == "Running" {
			_, _, err := c.Pods().Delete(ctx, "default", "warm", client.DeleteOptions{})
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the warm-up pod did not run")
}

// measure creates the pods and records, per pod, the time from its create
// call to the first watch event that shows it Running.
func measure(ctx context.Context, c *client.Client, image string, pods, creators int, rate float64, onRunning func(int)) ([]time.Duration, time.Duration, error) {
	w, err := c.Pods().Watch(ctx, client.ListOptions{LabelSelector: "bench=podstart"}, "")
	if err != nil {
		return nil, 0, err
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	bound := map[string]bool{}
	var toBound []time.Duration // create → bound to the node (the scheduler's part)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if len(toBound) > 0 {
			sort.Slice(toBound, func(i, j int) bool { return toBound[i] < toBound[j] })
			fmt.Printf("create → bound (scheduler): p50 %s  p99 %s (%d pods)\n",
				toBound[len(toBound)/2].Round(time.Millisecond), toBound[len(toBound)*99/100].Round(time.Millisecond), len(toBound))
		}
	}()
	lat := make([]time.Duration, 0, pods)
	allRunning := make(chan struct{})
	go func() {
		seen := map[string]bool{}
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			p := ev.Object
			if p.GetSpec().GetNodeName() != "" {
				mu.Lock()
				if t0, ok := created[p.Metadata.Name]; ok && !bound[p.Metadata.Name] {
					bound[p.Metadata.Name] = true
					toBound = append(toBound, time.Since(t0))
				}
				mu.Unlock()
			}
			if p.GetStatus().GetPhase() != "Running" || seen[p.Metadata.Name] || p.Metadata.Name == "warm" {
				continue
			}
			now := time.Now()
			mu.Lock()
			t0, ok := created[p.Metadata.Name]
			mu.Unlock()
			if !ok {
				continue
			}
			seen[p.Metadata.Name] = true
			lat = append(lat, now.Sub(t0))
			onRunning(len(seen))
			if len(seen) == pods {
				close(allRunning)
				return
			}
		}
	}()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, creators)
	for i := 0; i < creators; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1) - 1)
				if n >= pods {
					return
				}
				if rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(n) / rate * float64(time.Second)))))
				}
				name := fmt.Sprintf("p-%04d", n)
				mu.Lock()
				created[name] = time.Now()
				mu.Unlock()
				if _, err := c.Pods().Create(ctx, benchPod(name, image)); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, 0, err
	default:
	}
	select {
	case <-allRunning:
	case <-time.After(5 * time.Minute):
		return nil, 0, fmt.Errorf("only %d of %d pods ran within 5 minutes", len(lat), pods)
	}
	return lat, time.Since(start), nil
}

// cleanup deletes every pod gracefully — so the agent confirms each once
// it is torn down — and waits until the agent's runtime holds no container.
func cleanup(c *client.Client, containersDir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pods, _, _ := c.Pods().List(ctx, client.ListOptions{})
	grace := int64(1)
	for _, p := range pods {
		c.Pods().Delete(ctx, "default", p.Metadata.Name, client.DeleteOptions{GracePeriodSeconds: &grace})
	}
	for ctx.Err() == nil {
		left, _, err := c.Pods().List(ctx, client.ListOptions{})
		containers, _ := os.ReadDir(containersDir)
		if err == nil && len(left) == 0 && len(containers) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "podstart: pods not torn down within 3 minutes")
}

// adminClient connects with the credentials the server writes once it is
// ready.
func adminClient(ctx context.Context, cfgPath string) (*client.Client, error) {
	for {
		if cfg, err := client.LoadConfig(cfgPath); err == nil {
			opts, err := cfg.Options(cfgPath)
			if err != nil {
				return nil, err
			}
			return client.New(cfg.Server, opts)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the server wrote no config to %s: %w", cfgPath, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startPerf records a system-wide CPU profile with call graphs (`perf
// record -a -g`) into out until stop is called; no out, no profile. The
// node's work is spread over the agent, the server and short-lived
// supervisor and init processes, so only a system-wide profile sees all
// of it: `perf report -i out --sort comm,dso` splits it by process.
func startPerf(out string) (stop func(), err error) {
	if out == "" {
		return func() {}, nil
	}
	cmd := exec.Command("perf", "record", "-a", "-g", "-F", "499", "-o", out)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // perf is sampling once it has opened its events
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}, nil
}
