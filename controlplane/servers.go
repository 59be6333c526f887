package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
)

// serversPrefix holds one key per running server, its API address, under
// a lease the server keeps alive: the list of servers agents and the
// command line may fail over to. Outside the /skiff/ object keys the API
// server owns, as the leader elections' /skiff-leader/.
const serversPrefix = "/skiff-control/servers/"

// serverTTL is how long a server that died stays in the list.
const serverTTL = 15 * time.Second

// advertiseServer keeps this server's API address in the list until ctx
// ends, granting a new lease whenever etcd lost the old one (a partition
// longer than the TTL).
func advertiseServer(ctx context.Context, cli *clientv3.Client, reg serverRegistration, log *slog.Logger) {
	addr := reg.Address
	value, err := json.Marshal(reg)
	if err != nil {
		log.Error("encoding this server's registration", "err", err)
		return
	}
	for ctx.Err() == nil {
		if err := keepServerKey(ctx, cli, addr, string(value)); err != nil && ctx.Err() == nil {
			log.Warn("advertising this server in etcd failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	// Leave the list at once on a clean stop.
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = cli.Delete(dctx, serversPrefix+addr)
}

func keepServerKey(ctx context.Context, cli *clientv3.Client, addr, value string) error {
	gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	lease, err := cli.Grant(gctx, int64(serverTTL/time.Second))
	if err == nil {
		_, err = cli.Put(gctx, serversPrefix+addr, value, clientv3.WithLease(lease.ID))
	}
	cancel()
	if err != nil {
		return err
	}
	alive, err := cli.KeepAlive(ctx, lease.ID)
	if err != nil {
		return err
	}
	for range alive {
	}
	return nil
}

// listServers is the API addresses of the servers alive now, sorted.
func listServers(ctx context.Context, cli *clientv3.Client) ([]string, error) {
	resp, err := cli.Get(ctx, serversPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), serversPrefix))
	}
	sort.Strings(out)
	return out, nil
}

// startServerList connects the server's own etcd client (for the server
// list, joining servers and shared usage readings) and keeps this server
// in the list. With dnsBound (the DNS server's address, sent once it
// answers) the registration names the DNS address, and the server keeps
// the kube-dns Endpoints.
func (cp *ControlPlane) startServerList(ctx context.Context, g *errgroup.Group, joins *serverJoinService, list *serverListService, usage *sharedUsage, advertised string, dnsBound <-chan string) error {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cp.etcdEndpoints, TLS: cp.etcdTLS, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		return fmt.Errorf("controlplane: etcd client: %w", err)
	}
	joins.etcd.Store(cli)
	list.etcd.Store(cli)
	cp.etcd = cli
	var users sync.WaitGroup
	if usage.shared {
		users.Add(1)
		go func() { defer users.Done(); usage.mirror(ctx, cli) }()
	}
	var dnsAPI *client.Client
	if dnsBound != nil {
		if dnsAPI, err = cp.Client(pki.Controller); err != nil {
			cli.Close()
			return err
		}
	}
	g.Go(func() error {
		log := cp.cfg.Logger.With("component", "servers")
		reg := serverRegistration{Name: list.name, Address: advertised, Metrics: advertisedHostPort(cp.cfg.MetricsAddr, advertised)}
		if dnsBound != nil {
			defer dnsAPI.Close()
			select {
			case bound := <-dnsBound:
				if addr, ok := advertisedDNS(bound, advertised); ok {
					reg.DNS = addr
				} else {
					log.Warn("cluster DNS listens where pods on other machines cannot reach it: not listed in the kube-dns Endpoints; give agents --cluster-dns", "dns", bound)
				}
			case <-ctx.Done():
			}
		}
		if reg.DNS != "" && ctx.Err() == nil {
			cp.startDNSEndpoints(ctx, cli, dnsAPI, &users)
		}
		reg.Started = time.Now().UTC()
		advertiseServer(ctx, cli, reg, log)
		users.Wait()
		return cli.Close()
	})
	return nil
}

// startDNSEndpoints keeps the kube-dns Service and Endpoints until ctx
// ends, counted in users.
func (cp *ControlPlane) startDNSEndpoints(ctx context.Context, cli *clientv3.Client, api *client.Client, users *sync.WaitGroup) {
	ip, err := dnsClusterIP(cp.cfg.ServiceCIDR)
	if err != nil {
		// The API server picks another; agents read it from the Service.
		cp.cfg.Logger.Warn("the kube-dns Service gets any free ClusterIP", "err", err)
	}
	d := &dnsEndpoints{etcd: cli, api: api, clusterIP: ip, log: cp.cfg.Logger.With("component", "dns-endpoints")}
	users.Add(1)
	go func() { defer users.Done(); d.run(ctx) }()
}

// Servers is the API addresses of the servers alive now (this one and
// every other that shares its etcd).
func (cp *ControlPlane) Servers(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return listServers(ctx, cp.etcd)
}

// RemoveServer removes the named server's etcd member from the cluster,
// through the embedded etcd of the server whose data dir is dataDir
// (listening for clients at etcdListen), with that server's etcd client
// certificate: `skiff server remove NAME`, run on a remaining server's
// host after the removed one stopped for good.
func RemoveServer(ctx context.Context, dataDir, etcdListen, name string) error {
	dir := filepath.Join(dataDir, "pki")
	kp, err := pki.ReadKeyPair(filepath.Join(dir, "etcd-client.crt"), filepath.Join(dir, "etcd-client.key"))
	if err != nil {
		return fmt.Errorf("the server's etcd client certificate (is --data-dir a server's, and are you root?): %w", err)
	}
	ca, err := pki.ReadCertFile(filepath.Join(dir, pki.CACertFile))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{"https://" + etcdListen}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{kp.TLSCertificate()}},
	})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return removeMember(ctx, cli, name)
}

// advertisedAddr is the API address other machines reach this server at:
// the listen address, or, listening on all addresses, the etcd peer's IP
// when it has one (loopback otherwise, as the command line's config).
func (cp *ControlPlane) advertisedAddr(c *cluster) string {
	host, port, err := net.SplitHostPort(cp.addr)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() && c != nil && c.peerURL != "" {
		if u, err := url.Parse(c.peerURL); err == nil {
			return net.JoinHostPort(u.Hostname(), port)
		}
	}
	return clientAddr(cp.addr)
}

// configServers is what the command line's config names: this server
// first, then the others a join reported.
func (c *cluster) configServers(self string) []string {
	out := []string{self}
	if c == nil {
		return out
	}
	for _, s := range c.servers {
		if s != self {
			out = append(out, s)
		}
	}
	return out
}
