package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/client/nodelease"
	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/nodeagent/network"
	"github.com/skiff-sh/skiff/nodeagent/proxy"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Agent runs the pods of one node. Make it with New, then Run it.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	lis     net.Listener
	metrics *metrics

	runtime containerRuntime
	images  imageStore
	net     podNetwork // nil until Run has set up the node's network
	pods    *client.Informer[*skiffv1.Pod]
	nodes   *client.Informer[*skiffv1.Node]
	// services holds every Service: the proxy's, containers' service
	// variables, and kube-system/kube-dns, whose ClusterIP is pods'
	// nameserver when --cluster-dns is unset.
	services *client.Informer[*skiffv1.Service]
	lease    *nodelease.Renewer
	usage    *usageCollector

	starts startSlots

	// podIPs holds each pod's IP from the moment its sandbox is attached
	// (by UID), for the downward API before the pod's status has it.
	podIPs sync.Map

	mu      sync.Mutex
	workers map[string]*podWorker // by pod UID
	wg      sync.WaitGroup

	readyOnce sync.Once
	ready     chan struct{}

	// events queues the pods' events for the sender Run starts (nil in
	// an Agent made by hand: events are written at once).
	events chan *skiffv1.Event
}

// New checks the configuration, opens the runtime and image store, and
// binds the agent's gRPC port.
func New(cfg Config) (*Agent, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	binary, err := cfg.containerBinary()
	if err != nil {
		return nil, err
	}
	if cfg.TmpfsRunDir {
		if err := mountRunDir(cfg.RunDir, cfg.Logger); err != nil {
			return nil, err
		}
	}
	rt, err := runtime.New(runtime.Config{
		StateDir: filepath.Join(cfg.DataDir, "runtime"),
		RunDir:   filepath.Join(cfg.RunDir, "runtime"),
		Binary:   binary,
		// One supervisor started ahead of need takes a process start off
		// each pod's start.
		WarmSupervisors: 1,
		Logger:          cfg.Logger.With("component", "runtime"),
	})
	if err != nil {
		return nil, err
	}
	images, err := image.New(image.Config{
		Root:               filepath.Join(cfg.DataDir, "images"),
		InsecureRegistries: cfg.InsecureRegistries,
		Registries:         cfg.Registries,
		Transport:          cfg.ImageTransport,
		Logger:             cfg.Logger.With("component", "images"),
	})
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("nodeagent: listen on %s: %w", cfg.Listen, err)
	}
	a := &Agent{
		cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), lis: lis,
		metrics: newMetrics(cfg.Registerer),
		runtime: rt, images: images,
		starts:  newStartSlots(),
		workers: map[string]*podWorker{},
		ready:   make(chan struct{}),
		events:  make(chan *skiffv1.Event, eventQueue),
	}
	a.usage = newUsageCollector(a)
	cfg.Registerer.MustRegister(a.usage)
	return a, nil
}

func (a *Agent) listenAddr() string { return a.lis.Addr().String() }

// Ready is closed once the node is registered and its pods are synced.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run registers the node and runs its pods until ctx ends. Stopping the
// agent never stops containers: the next agent re-adopts them.
func (a *Agent) Run(ctx context.Context) error {
	defer a.lis.Close()
	node, err := a.registerWithRetry(ctx)
	if err != nil {
		return err
	}
	a.log.Info("node registered", "pod_cidr", node.Spec.PodCidr)
	podCIDR, err := netip.ParsePrefix(node.Spec.PodCidr)
	if err != nil {
		return fmt.Errorf("nodeagent: the server gave pod CIDR %q: %w", node.Spec.PodCidr, err)
	}
	podNet, err := network.Setup(network.Config{
		PodCIDR:     podCIDR,
		ClusterCIDR: netip.MustParsePrefix(a.cfg.ClusterCIDR),
		ServiceCIDR: netip.MustParsePrefix(a.cfg.ServiceCIDR),
		BridgeName:  a.cfg.BridgeName,
		// Addresses live as long as the pods' namespaces: until reboot.
		StateDir:       filepath.Join(a.cfg.RunDir, "network"),
		LegacyStateDir: filepath.Join(a.cfg.DataDir, "network"),
		HostNetNS:      a.cfg.HostNetNS,
	})
	if err != nil {
		return fmt.Errorf("nodeagent: pod network: %w", err)
	}
	a.net = podNet

	gs := grpc.NewServer(a.serverOptions()...)
	skiffv1.RegisterPodIOServer(gs, &podIOServer{agent: a})
	serveErr := make(chan error, 1)
	go func() { serveErr <- gs.Serve(a.lis) }()

	// Stopped last (deferred), after the workers: their last events go out.
	stopEvents := a.startEventSender()
	defer stopEvents()

	a.pods = client.NewInformer(a.cfg.Client.Pods(), client.ListOptions{FieldSelector: "spec.nodeName=" + a.cfg.NodeName}, a.log)
	a.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd:    func(p *skiffv1.Pod) { a.dispatch(p) },
		OnUpdate: func(_, p *skiffv1.Pod) { a.dispatch(p) },
		OnDelete: func(p *skiffv1.Pod) { a.forget(p) },
	})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	spawn := func(loop func(context.Context)) {
		bg.Add(1)
		go func() { defer bg.Done(); loop(runCtx) }()
	}
	// Every Node: peers' pod CIDRs for routes, and this node's own as
	// stored, which the heartbeat compares its status with.
	a.nodes = client.NewInformer(a.cfg.Client.Nodes(), client.ListOptions{}, a.log)
	peersKick := followPeers(a.nodes)
	a.lease = nodelease.New(a.cfg.Client, a.cfg.NodeName, node.GetMetadata().GetUid())
	// Set before the pods informer starts pod workers, which read it
	// (the pod's DNS server, its service variables).
	a.services = newServicesInformer(a.cfg.Client, a.log)
	spawn(func(ctx context.Context) { a.services.Run(ctx) })
	spawn(func(ctx context.Context) { a.pods.Run(ctx) })
	spawn(func(ctx context.Context) { a.nodes.Run(ctx) })
	spawn(func(ctx context.Context) { a.runPeers(ctx, a.nodes, peersKick) }) // host-gw routes, masquerade
	clusterCIDR, _ := netip.ParsePrefix(a.cfg.ClusterCIDR)
	// The address the node registered as its InternalIP: skiff's load
	// balancer answers LoadBalancer services there.
	var nodeAddrs []netip.Addr
	if ip, err := netip.ParseAddr(a.cfg.AdvertiseAddress); err == nil {
		nodeAddrs = append(nodeAddrs, ip)
	}
	spawn(func(ctx context.Context) {
		// ClusterIPs, node ports and external addresses; the table goes
		// when the agent stops.
		err := proxy.Run(ctx, proxy.Config{
			Client: a.cfg.Client, Services: a.services, HostNetNS: a.cfg.HostNetNS, Logger: a.log.With("component", "proxy"),
			Node: proxy.Node{Name: a.cfg.NodeName, ClusterCIDR: clusterCIDR, Addresses: nodeAddrs},
		})
		if err != nil {
			a.log.Warn("service proxy stopped", "err", err)
		}
	})
	spawn(func(ctx context.Context) { every(ctx, a.cfg.HeartbeatInterval, a.heartbeat) })
	spawn(a.usage.run)
	spawn(func(ctx context.Context) { every(ctx, 30*time.Second, a.gcLocalVolumes) })
	spawn(func(ctx context.Context) { every(ctx, time.Minute, a.gcImages) })

	// Pods' resolv.conf names the DNS Service, and their containers get
	// the variables of their namespace's Services, once the cache knows
	// them (as the kubelet waits for its service informer).
	if !a.pods.WaitForSync(runCtx) || !a.services.WaitForSync(runCtx) {
		gs.Stop()
		bg.Wait()
		return ctx.Err()
	}
	if err := a.cleanupOrphans(runCtx); err != nil {
		a.log.Warn("cleaning up pods deleted while the agent was away", "err", err)
	}
	a.readyOnce.Do(func() { close(a.ready) })
	a.log.Info("agent ready", "listen", a.listenAddr())

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	cancel()
	gs.Stop()
	// The informers first: their handlers start workers (and teardowns),
	// and a WaitGroup must not gain members while stopWorkers waits on it.
	bg.Wait()
	a.stopWorkers()
	a.runtime.Close() // ends the warm supervisor, never containers
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	a.log.Info("agent stopped; containers keep running")
	return err
}

// dispatch hands the newest version of a pod to its worker, starting one
// for a pod seen the first time.
func (a *Agent) dispatch(p *skiffv1.Pod) {
	uid := p.GetMetadata().GetUid()
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.workers[uid]
	if !ok {
		w = newPodWorker(a, uid)
		a.workers[uid] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run()
			a.mu.Lock()
			if a.workers[uid] == w {
				delete(a.workers, uid)
			}
			// An update that arrived while the worker was ending would
			// wait in its mailbox for nobody: hand it to a new worker,
			// unless the agent is stopping.
			var late *skiffv1.Pod
			select {
			case late = <-w.mailbox:
			default:
			}
			a.mu.Unlock()
			// A pod gone from the API stays gone: a late update of it is
			// older than its deletion and would start it again.
			if late != nil && !w.stopped() && !w.removed() {
				a.dispatch(late)
			}
		}()
	}
	w.update(p)
}

// forget tells a pod's worker that the pod is gone from the API (deleted
// with force, or its node changed): it stops and removes everything.
func (a *Agent) forget(p *skiffv1.Pod) {
	a.mu.Lock()
	w, ok := a.workers[p.GetMetadata().GetUid()]
	a.mu.Unlock()
	if ok {
		w.remove()
		return
	}
	// No worker (agent restarted): clean up directly.
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a.teardownUntilDone(ctx, p.GetMetadata().GetUid())
	}()
}

func (a *Agent) stopWorkers() {
	a.mu.Lock()
	for _, w := range a.workers {
		w.stop()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

func (a *Agent) runningPods() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.workers)
}

// Gateway is the node bridge's address, where pods reach the node (and
// where `skiff up` serves cluster DNS). Valid once Ready.
func (a *Agent) Gateway() netip.Addr { return a.net.Gateway() }

// registerWithRetry registers the node, waiting out a server that is down
// or restarting (doubling pauses up to 10s) rather than giving up: an
// agent outlives its server's restarts. Only bad configuration ends it.
func (a *Agent) registerWithRetry(ctx context.Context) (*skiffv1.Node, error) {
	wait := 200 * time.Millisecond
	for {
		node, err := a.register(ctx)
		if err == nil || ctx.Err() != nil || isPermanent(err) {
			return node, err
		}
		a.log.Warn("registering the node failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// isPermanent tells errors that waiting will not fix (Unknown: not from
// the server at all, such as reserved resources beyond the capacity).
func isPermanent(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.Unknown:
		return true
	}
	return false
}

// every runs fn each interval until ctx ends: the agent's periodic work
// (heartbeat, garbage collection).
func every(ctx context.Context, interval time.Duration, fn func(context.Context, time.Time)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fn(ctx, now)
		}
	}
}
