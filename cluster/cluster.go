package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/image/build"
	"github.com/skiff-sh/skiff/ports"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// DemoImage is pushed to every new cluster's registry, so pods run
// without the internet: busybox whose httpd serves :8080.
const DemoImage = "demo:latest"

// Options tune Create, Start, Stop and Delete; zero values get defaults.
type Options struct {
	Roots
	// Binary is the skiff binary the nodes run (default: this process's).
	Binary string
	// Timeout bounds waiting for the cluster to be ready (default 60s).
	Timeout time.Duration
	// Grace is how long Stop waits after SIGTERM (default 30s).
	Grace time.Duration
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
	// ServerFlags are added to the server's command line at Create (e.g.
	// "--node-grace-period=10s"); they are kept in its env file.
	ServerFlags []string
	// Servers is how many servers Create makes (0: one, on the first
	// node; more run on machines of their own, see servers.go).
	Servers int
	// VM makes Create boot the nodes as QEMU guests (vm_linux.go).
	VM VMOptions
}

func (o Options) withDefaults() Options {
	o.Roots = o.Roots.withDefaults()
	if o.Binary == "" {
		if exe, err := os.Executable(); err == nil {
			o.Binary = exe
		}
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Grace == 0 {
		o.Grace = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Info is what List and Create report about a cluster.
type Info struct {
	Name       string
	Nodes      int // the Nodes (machines running an agent)
	Servers    int
	State      string // "running", "stopped" or "degraded" (some processes down)
	Server     string // API address, from the host
	ConfigFile string // the command line's config (skiff --config FILE …)
	Registry   string // the cluster's registry, HOST:PORT
	Image      string // the demo image's reference
}

func (l layout) info() Info {
	running, total := 0, 0
	for _, d := range l.daemons() {
		total++
		if _, ok := d.pid(); ok {
			running++
		}
	}
	if l.spec.VM != nil {
		r, t := l.vmCounts()
		running, total = running+r, total+t
	}
	state := "degraded"
	switch running {
	case total:
		state = "running"
	case 0:
		state = "stopped"
	}
	reg := l.registryAddr()
	return Info{
		Name: l.spec.Name, Nodes: len(l.agentNodes()), Servers: l.serverCount(), State: state,
		Server: l.Server(), ConfigFile: l.ConfigFile(), Registry: reg, Image: reg + "/" + DemoImage,
	}
}

// daemons are the cluster's processes, the servers first.
func (l layout) daemons() []daemon {
	if l.spec.VM != nil {
		return []daemon{l.vmServer()}
	}
	var out []daemon
	for _, m := range l.servers() {
		out = append(out, l.serverDaemon(m))
	}
	for _, m := range l.members() {
		if l.runsAgent(m) {
			out = append(out, l.daemonOf(m.Name))
		}
	}
	return out
}

// Create makes a cluster of n nodes (and o.Servers servers) and starts
// it; it returns once every node is Ready.
func Create(ctx context.Context, name string, n int, o Options) (Info, error) {
	o = o.withDefaults()
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if n < 1 || n > 200 {
		return Info{}, fmt.Errorf("--nodes %d: want 1 to 200", n)
	}
	if o.Servers != 0 {
		if err := validateServers(o.Servers); err != nil {
			return Info{}, err
		}
	}
	if os.Geteuid() != 0 {
		return Info{}, errors.New("cluster: needs root (network namespaces, containers)")
	}
	unlock, err := lockRoots(o.Roots)
	if err != nil {
		return Info{}, err
	}
	l := layout{Roots: o.Roots, spec: Spec{Name: name, Nodes: n}}
	if o.Servers > 1 {
		if o.VM.Enabled {
			unlock()
			return Info{}, errors.New("--vm with --servers: a VM cluster has one server, on this host")
		}
		l.spec.Servers = o.Servers
	}
	if o.VM.Enabled {
		if l.spec.VM, err = o.VM.spec(o.Roots); err != nil {
			unlock()
			return Info{}, err
		}
		l.spec.Members = vmMembers(n)
	}
	if _, err := os.Stat(l.specFile()); err == nil {
		unlock()
		return Info{}, fmt.Errorf("cluster %q already exists (skiff cluster delete --name %s)", name, name)
	}
	if isNamespace(l.netnsPath("lab")) {
		unlock()
		return Info{}, fmt.Errorf("cluster %q: namespace %s exists, but no cluster under %s owns it", name, l.netnsName("lab"), o.State)
	}
	l.spec.Subnet, err = freeSubnet(takenSubnets(o.Roots))
	if err == nil {
		err = l.save()
	}
	if err == nil {
		// The host's veth with its address on the subnet is what marks the
		// subnet taken for a create under another state root (a cluster
		// of another user, or of a test running beside this one), so it
		// is made before the lock goes.
		if err = l.ensureNetwork(); err != nil {
			err = fmt.Errorf("cluster %s: network: %w", name, err)
		}
	}
	unlock()
	if err != nil {
		return Info{}, err
	}
	fmt.Fprintf(o.Progress, "Creating cluster %q (%s%d nodes, lab subnet 172.31.%d.0/24)\n", name, l.serversSummary(), n, l.spec.Subnet)
	if err := l.provision(o.ServerFlags); err != nil {
		return Info{}, err
	}
	if err := client.SaveConfig(l.ConfigFile(), &client.Config{Server: l.Server()}); err != nil {
		return Info{}, err
	}
	if err := l.start(ctx, o, true); err != nil {
		return l.info(), err
	}
	return l.info(), nil
}

// provision writes each node's directories and env files: the same
// command lines a Vagrant machine gets (see ServerArgs, AgentArgs).
func (l layout) provision(serverFlags []string) error {
	if l.spec.VM != nil {
		return l.provisionVMServer(serverFlags)
	}
	server := l.Server()
	for _, m := range l.servers() {
		args := append(ServerArgs(l.serverSpec(m)), serverFlags...)
		if err := writeEnvFile(filepath.Join(l.nodeDir(m.Name), "server.env"), args); err != nil {
			return err
		}
	}
	if l.several() {
		if err := l.writeRegistries(); err != nil {
			return err
		}
	}
	for _, m := range l.members() {
		if !l.runsAgent(m) {
			continue
		}
		if err := l.provisionAgent(server, m); err != nil {
			return err
		}
	}
	return nil
}

// provisionAgent writes the env file of m's agent.
func (l layout) provisionAgent(server string, m Member) error {
	first := l.firstServer()
	spec := AgentSpec{
		Server: server, NodeName: m.Name, Address: l.nodeAddr(m.Host),
		DataDir: filepath.Join(l.nodeDir(m.Name), "agent"), RunDir: l.nodeRunDir(m.Name),
		ClusterCIDR: clusterCIDR,
		Registry:    hostPortInt(l.nodeAddr(first.Host), ports.Registry),
		TokenFile:   filepath.Join(l.nodeDir(first.Name), "server", "token"),
	}
	if l.several() {
		spec.RegistriesFile = l.registriesFile()
	}
	args := AgentArgs(spec)
	return writeEnvFile(filepath.Join(l.nodeDir(m.Name), "agent.env"), args)
}

// Start brings a stopped cluster back on its data: the network first (it
// may be gone after a reboot), then the server, then the agents.
func Start(ctx context.Context, name string, o Options) (Info, error) {
	o = o.withDefaults()
	l, err := load(o.Roots, name)
	if err != nil {
		return Info{}, err
	}
	if err := l.start(ctx, o, false); err != nil {
		return l.info(), err
	}
	return l.info(), nil
}

func (l layout) start(ctx context.Context, o Options, created bool) error {
	if l.spec.VM != nil {
		return l.startVM(ctx, o, created)
	}
	t0 := time.Now()
	if err := l.ensureNetwork(); err != nil {
		return fmt.Errorf("cluster %s: network: %w", l.spec.Name, err)
	}
	fmt.Fprintf(o.Progress, " ✓ network (%d node namespaces, lab bridge) %s\n", len(l.members()), since(t0))
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c, err := l.startServers(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(o.Progress, " ✓ %s on %s %s\n", map[bool]string{false: "server", true: "servers"}[l.several()], l.Server(), since(t0))
	// An agent started now must report in anew: its Node may still look
	// Ready from before.
	var mu sync.Mutex
	fresh := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range l.daemons()[l.serverCount():] {
		g.Go(func() error {
			started, err := d.start(o.Binary)
			mu.Lock()
			fresh[d.node] = started
			mu.Unlock()
			return err
		})
	}
	if created {
		g.Go(func() error { return l.pushDemoAll(gctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := l.waitNodes(ctx, c, fresh, t0.Add(-time.Second)); err != nil {
		return err
	}
	fmt.Fprintf(o.Progress, " ✓ %d nodes Ready %s\n", len(l.agentNodes()), since(t0))
	return nil
}

func since(t time.Time) string { return fmt.Sprintf("(%.1fs)", time.Since(t).Seconds()) }

func waitServer(ctx context.Context, c *client.Client, d daemon) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.WaitReady(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if _, ok := d.pid(); !ok {
			return fmt.Errorf("cluster: the server exited; its log (%s) ends:\n%s", d.logFile(), d.tail(20))
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cluster: server not ready: %w; its log (%s) ends:\n%s", err, d.logFile(), d.tail(20))
		}
	}
}

// waitNodes waits until every node of the cluster is registered and Ready,
// the fresh ones with a heartbeat after since.
func (l layout) waitNodes(ctx context.Context, c *client.Client, fresh map[string]bool, since time.Time) error {
	want := map[string]bool{}
	for _, n := range l.agentNodes() {
		want[n] = true
	}
	for {
		nodes, _, err := c.Nodes().List(ctx, client.ListOptions{})
		ready := 0
		for _, n := range nodes {
			name := n.GetMetadata().GetName()
			if want[name] && nodeReady(n, fresh[name], since) {
				ready++
			}
		}
		if err == nil && ready == len(want) {
			return nil
		}
		for _, d := range l.daemons() {
			if _, ok := d.pid(); !ok {
				return fmt.Errorf("cluster: the %s of %s exited; its log (%s) ends:\n%s", d.role, d.node, d.logFile(), d.tail(20))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: %d of %d nodes Ready: %w", ready, len(want), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func nodeReady(n *skiffv1.Node, fresh bool, since time.Time) bool {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == skiffv1.NodeReady {
			return c.GetStatus() == skiffv1.ConditionTrue && (!fresh || !c.GetLastHeartbeatTime().AsTime().Before(since))
		}
	}
	return false
}

// pushDemo puts the busybox demo image into the cluster's registry (from
// the host, over the lab veth).
func pushDemo(ctx context.Context, registry, configPath string) error {
	img, err := build.Busybox(build.BusyboxPath)
	if err != nil {
		return fmt.Errorf("cluster: demo image: %w (install Debian's busybox-static)", err)
	}
	// The registry serves TLS with the server's certificate.
	transport, err := client.RegistryTransport(configPath)
	if err != nil {
		return err
	}
	remote := build.Remote{Insecure: []string{registry}, Transport: transport}
	for {
		_, err := remote.Push(ctx, img, registry+"/"+DemoImage, nil)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: push demo image: %w", err)
		case <-time.After(100 * time.Millisecond): // the registry is still starting
		}
	}
}

// Stop ends the cluster's processes by PID: agents first (containers keep
// running), then the servers.
func Stop(name string, o Options) error {
	o = o.withDefaults()
	l, err := load(o.Roots, name)
	if err != nil {
		return err
	}
	return l.stop(o)
}

func (l layout) stop(o Options) error {
	if l.spec.VM != nil {
		return l.stopVM(o)
	}
	ds := l.daemons()
	var g errgroup.Group
	var errs []error
	errc := make(chan error, len(ds))
	for _, d := range ds {
		if d.role == "agent" {
			g.Go(func() error { errc <- d.stop(o.Grace); return nil })
		}
	}
	g.Wait()
	for _, d := range ds {
		if d.role == "server" {
			g.Go(func() error { errc <- d.stop(o.Grace); return nil })
		}
	}
	g.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// List returns the clusters under roots, by name.
func List(roots Roots) ([]Info, error) {
	roots = roots.withDefaults()
	ents, err := os.ReadDir(roots.State)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if l, err := load(roots, e.Name()); err == nil {
			out = append(out, l.info())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns one cluster's Info.
func Get(roots Roots, name string) (Info, error) {
	l, err := load(roots, name)
	if err != nil {
		return Info{}, err
	}
	return l.info(), nil
}

// NodeNetNS is the path of a node's network namespace (node "lab" for the
// lab), for `nsenter --net=PATH` or `ip netns exec`.
func NodeNetNS(roots Roots, name, node string) (string, error) {
	l, err := load(roots, name)
	if err != nil {
		return "", err
	}
	return l.netnsPath(node), nil
}

func takenSubnets(roots Roots) map[int]bool {
	taken := map[int]bool{}
	ents, _ := os.ReadDir(roots.State)
	for _, e := range ents {
		if l, err := load(roots, e.Name()); err == nil {
			taken[l.spec.Subnet] = true
		}
	}
	return taken
}

// lockFile is one per host, whatever the roots: lab subnets are the
// host's.
const lockFile = "/run/skiff/clusters.lock"

// lockRoots serialises subnet choice between concurrent creates on this
// host (a lock file under the run root, shared by every state root).
func lockRoots(roots Roots) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(lockFile), 0o755); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	f, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// client connects with the credentials the server wrote into the cluster's
// config, waiting for them on a first start.
func (l layout) client(ctx context.Context) (*client.Client, error) {
	for {
		cfg, err := client.LoadConfig(l.ConfigFile())
		if err == nil && cfg.CA != "" {
			opts, err := cfg.Options(l.ConfigFile())
			if err != nil {
				return nil, err
			}
			return client.New(l.Server(), opts)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster %s: the server wrote no credentials to %s: %w", l.spec.Name, l.ConfigFile(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
