package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/ports"
)

// A cluster of several servers (`--servers 3`, k3d's --servers, kind's
// several control-plane nodes) runs each server on a machine of its own
// (server-1 … server-S, hosts 1 … S on the lab subnet): server-1 starts
// the cluster of servers (--cluster-init), the others join it with its
// server token over the lab bridge, each embedded etcd a member. Those
// machines run no agent, as kind's control-plane nodes take no workloads:
// losing a server never takes a pod with it. The nodes that run pods,
// node-1 … node-N, follow them (hosts S+1 …). With one server (the
// default) the first node runs the server beside its agent, as before.
//
// Agents and the command line's config name every server (comma-separated:
// the client fails over between them). Each server writes its own admin
// config into its machine's directory; the cluster's config is made from
// theirs with all addresses. The demo image is pushed to every server's
// registry, and agents look for server-1's images at all of them (a
// registries.yaml mirror), so pulls go on when a server is gone. Cluster
// DNS is server-1's: pods' resolv.conf names one nameserver.

// MaxServers is the most servers a local cluster has.
const MaxServers = 7

// validateServers checks --servers: an odd count, so that a majority of
// etcd members survives losing (S-1)/2 of them.
func validateServers(s int) error {
	if s < 1 || s > MaxServers || s%2 == 0 {
		return fmt.Errorf("--servers %d: want 1, 3, 5 or 7 (etcd needs a majority of its members: an even count survives no more losses than the odd count below it)", s)
	}
	return nil
}

// serverCount is how many servers the cluster has (at least one).
func (l layout) serverCount() int { return max(1, l.spec.Servers) }

// several reports whether the servers are machines of their own.
func (l layout) several() bool { return l.serverCount() > 1 }

// defaultMembers are the machines of a cluster whose node set never
// changed: with one server node-1 … node-Nodes; with several, the servers
// first, then the nodes.
func (l layout) defaultMembers() []Member {
	var out []Member
	if l.several() {
		for i := 1; i <= l.serverCount(); i++ {
			out = append(out, Member{Name: fmt.Sprintf("server-%d", i), Host: i})
		}
	}
	for i := 1; i <= l.spec.Nodes; i++ {
		out = append(out, Member{Name: nodeName(i), Host: len(out) + 1})
	}
	return out
}

// isServer reports whether m runs a server: the first serverCount
// members do (added nodes come after them).
func (l layout) isServer(m Member) bool {
	for i, s := range l.members() {
		if i >= l.serverCount() {
			return false
		}
		if s.Name == m.Name {
			return true
		}
	}
	return false
}

// runsAgent reports whether m runs an agent (is a Node).
func (l layout) runsAgent(m Member) bool { return !l.several() || !l.isServer(m) }

func (l layout) servers() []Member { return l.members()[:l.serverCount()] }

// agentNodes are the names of the machines that are Nodes.
func (l layout) agentNodes() []string {
	var out []string
	for _, m := range l.members() {
		if l.runsAgent(m) {
			out = append(out, m.Name)
		}
	}
	return out
}

func (l layout) firstServer() Member { return l.members()[0] }

// serverAddrs are the API addresses of every server.
func (l layout) serverAddrs() []string {
	if l.spec.VM != nil {
		return []string{hostPortInt(l.nodeAddr(vmServerHost), ports.API)}
	}
	var out []string
	for _, m := range l.servers() {
		out = append(out, hostPortInt(l.nodeAddr(m.Host), ports.API))
	}
	return out
}

// registryAddr is the first server's registry, where the demo image is.
func (l layout) registryAddr() string {
	host := vmServerHost
	if l.spec.VM == nil {
		host = l.firstServer().Host
	}
	return hostPortInt(l.nodeAddr(host), ports.Registry)
}

// serverConfigFile is where a server of several writes its admin config
// (the cluster's config is made from it: writeClusterConfig).
func (l layout) serverConfigFile(m Member) string {
	return filepath.Join(l.nodeDir(m.Name), "cli", "config")
}

// registriesFile is the agents' registries.yaml of a cluster of several
// servers.
func (l layout) registriesFile() string { return filepath.Join(l.dir(), "registries.yaml") }

// serverSpec is the command line of server m.
func (l layout) serverSpec(m Member) ServerSpec {
	s := ServerSpec{
		Address: l.nodeAddr(m.Host), DataDir: filepath.Join(l.nodeDir(m.Name), "server"), ClusterCIDR: clusterCIDR,
		// The server writes the cluster's config with an admin
		// certificate (and the CA) next to it.
		WriteConfig: l.ConfigFile(),
		// Nothing listens there: other names get SERVFAIL, and no
		// query ever leaves the machine.
		DNSUpstreams: []string{"127.0.0.1:5353"},
	}
	if !l.several() {
		return s
	}
	s.WriteConfig, s.ServerName = l.serverConfigFile(m), m.Name
	first := l.firstServer()
	if m.Name == first.Name {
		s.ClusterInit = true
	} else {
		s.JoinServer = "https://" + hostPortInt(l.nodeAddr(first.Host), ports.API)
		s.TokenFile = filepath.Join(l.nodeDir(first.Name), "server", "server-token")
	}
	return s
}

// writeRegistries writes the agents' registries.yaml: server-1's
// registry (the demo image's) mirrored at every server's.
func (l layout) writeRegistries() error {
	var endpoints []string
	for _, m := range l.servers() {
		endpoints = append(endpoints, "https://"+hostPortInt(l.nodeAddr(m.Host), ports.Registry))
	}
	r := image.Registries{Mirrors: map[string]image.Mirror{
		hostPortInt(l.nodeAddr(l.firstServer().Host), ports.Registry): {Endpoints: endpoints},
	}}
	data, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(l.registriesFile(), data, 0o644)
}

// writeClusterConfig makes the cluster's config from the admin config a
// running server wrote: its CA and admin certificate copied next to the
// cluster's config, and every server's address. False when no server
// wrote one yet.
func (l layout) writeClusterConfig() (bool, error) {
	var from *client.Config
	var fromPath string
	for _, m := range l.servers() {
		p := l.serverConfigFile(m)
		cfg, err := client.LoadConfig(p)
		if err != nil || cfg.CA == "" {
			continue
		}
		_, up := l.serverDaemon(m).pid()
		if up || from == nil {
			from, fromPath = cfg, p
		}
		if up {
			break // the freshest: a running server rewrote it at its start
		}
	}
	if from == nil {
		return false, nil
	}
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(fromPath), p)
	}
	out := &client.Config{Server: l.Server()}
	for _, f := range []struct {
		src  string
		dst  *string
		name string
		mode os.FileMode
	}{{from.CA, &out.CA, "ca.crt", 0o644}, {from.Cert, &out.Cert, "admin.crt", 0o644}, {from.Key, &out.Key, "admin.key", 0o600}} {
		data, err := os.ReadFile(rel(f.src))
		if err != nil {
			return false, fmt.Errorf("cluster %s: the servers' admin config: %w", l.spec.Name, err)
		}
		*f.dst = filepath.Join(l.dir(), f.name)
		if err := pki.WriteFile(*f.dst, data, f.mode); err != nil {
			return false, err
		}
	}
	return true, client.SaveConfig(l.ConfigFile(), out)
}

func (l layout) serverDaemon(m Member) daemon {
	return daemon{node: m.Name, role: "server", dir: l.nodeDir(m.Name), netns: l.netnsPath(m.Name), uts: l.utsFile(m.Name)}
}

// startServers starts the servers that are down and returns a client of
// them all once each answers. A new cluster of servers starts server-1
// first (the others join through it); a cluster that ran before starts
// them together: its etcd needs a majority of members to serve at all.
func (l layout) startServers(ctx context.Context, o Options) (*client.Client, error) {
	ms := l.servers()
	if !l.several() {
		d := l.serverDaemon(ms[0])
		if _, err := d.start(o.Binary); err != nil {
			return nil, err
		}
		c, err := l.client(ctx)
		if err != nil {
			return nil, err
		}
		if err := waitServer(ctx, c, d); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	fresh := !fileExists(filepath.Join(l.nodeDir(ms[0].Name), "server", "etcd", "member"))
	if fresh {
		if err := l.startAndWaitServers(ctx, o, ms[:1]); err != nil {
			return nil, err
		}
		ms = ms[1:]
	}
	if err := l.startAndWaitServers(ctx, o, ms); err != nil {
		return nil, err
	}
	// Fresh credentials from a running server.
	if _, err := l.writeClusterConfig(); err != nil {
		return nil, err
	}
	return l.client(ctx)
}

// startAndWaitServers starts the given servers and waits until each
// serves the API.
func (l layout) startAndWaitServers(ctx context.Context, o Options, ms []Member) error {
	for _, m := range ms {
		if _, err := l.serverDaemon(m).start(o.Binary); err != nil {
			return err
		}
	}
	// Credentials: a server writes its admin config once it is ready.
	for {
		ok, err := l.writeClusterConfig()
		if err != nil {
			return err
		}
		if ok {
			break
		}
		for _, m := range ms {
			d := l.serverDaemon(m)
			if _, up := d.pid(); !up {
				return fmt.Errorf("cluster: the server of %s exited; its log (%s) ends:\n%s", m.Name, d.logFile(), d.tail(20))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s: no server wrote its credentials: %w", l.spec.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	opts, err := client.OptionsFor(l.ConfigFile())
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, m := range ms {
		g.Go(func() error {
			c, err := client.New(hostPortInt(l.nodeAddr(m.Host), ports.API), opts)
			if err != nil {
				return err
			}
			defer c.Close()
			return waitServer(gctx, c, l.serverDaemon(m))
		})
	}
	return g.Wait()
}

// pushDemoAll pushes the demo image to every server's registry.
func (l layout) pushDemoAll(ctx context.Context) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, m := range l.servers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pushDemo(ctx, hostPortInt(l.nodeAddr(m.Host), ports.Registry), l.ConfigFile()); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serversSummary is the servers' part of a progress line.
func (l layout) serversSummary() string {
	if !l.several() {
		return ""
	}
	return fmt.Sprintf("%d servers, ", l.serverCount())
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// joinAddrs is a list of addresses as the command line takes several.
func joinAddrs(addrs []string) string { return strings.Join(addrs, ",") }
