package apiserver

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// etcdBackend is the etcd the server stores objects in, embedded or not.
type etcdBackend struct {
	client   *clientv3.Client
	embedded *embed.Etcd
	// clustered: the embedded etcd is one member of several, so its local
	// reads are not linearizable.
	clustered bool
	// Endpoints is where other components (leader election) reach it.
	Endpoints []string
}

// EmbeddedEtcdName is the embedded etcd member's name on a server that
// is not one of several.
const EmbeddedEtcdName = "skiff"

func startEtcd(ctx context.Context, cfg *Config) (*etcdBackend, error) {
	b := &etcdBackend{}
	endpoints := cfg.EtcdEndpoints
	if len(endpoints) == 0 {
		ec := embed.NewConfig()
		ec.Name = EmbeddedEtcdName
		ec.Dir = filepath.Join(cfg.DataDir, "etcd")
		ec.LogLevel = "fatal"
		if cfg.Logger.Enabled(ctx, -4) { // slog.LevelDebug
			ec.LogLevel = "warn"
		}
		ec.UnsafeNoFsync = cfg.UnsafeNoFsync
		// Only gRPC is used. The HTTP/JSON gateway is one more way in (and
		// its loopback dial cannot pass an allowed-CN check).
		ec.EnableGRPCGateway = false
		scheme := "http"
		if ts := cfg.EtcdServing; ts != nil {
			scheme = "https"
			ec.ClientTLSInfo = transport.TLSInfo{
				CertFile: ts.CertFile, KeyFile: ts.KeyFile, TrustedCAFile: ts.CAFile,
				ClientCertFile: ts.ClientCertFile, ClientKeyFile: ts.ClientKeyFile,
				ClientCertAuth: true, AllowedCNs: ts.AllowedCNs,
			}
		}
		client, _ := url.Parse(scheme + "://" + cfg.EtcdListen)
		// The peer port is never used by a single member; let the kernel
		// pick one so two servers on one host don't collide.
		peer, _ := url.Parse("http://127.0.0.1:0")
		ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
		ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
		ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
		if m := cfg.EtcdMember; m != nil {
			if err := joinEtcdCluster(ec, m); err != nil {
				return nil, err
			}
			b.clustered = true
		}
		ec.QuotaBackendBytes = 8 << 30
		e, err := embed.StartEtcd(ec)
		if err != nil {
			return nil, fmt.Errorf("apiserver: start embedded etcd in %s: %w", ec.Dir, err)
		}
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			e.Close()
			return nil, fmt.Errorf("apiserver: embedded etcd: %w", err)
		case <-time.After(etcdStartTimeout(cfg)):
			e.Close()
			return nil, fmt.Errorf("apiserver: embedded etcd in %s not ready after %s (a member of several waits for a quorum of them)", ec.Dir, etcdStartTimeout(cfg))
		}
		if cfg.EtcdMember != nil {
			if err := promoteSelf(ctx, e, etcdStartTimeout(cfg)); err != nil {
				e.Close()
				return nil, err
			}
		}
		b.embedded = e
		endpoints = []string{e.Clients[0].Addr().String()}
		if scheme == "https" {
			endpoints[0] = "https://" + endpoints[0]
		}
	}
	cli, err := etcdClient(b, endpoints, cfg)
	if err != nil {
		b.close()
		return nil, err
	}
	b.client = cli
	b.Endpoints = endpoints
	// Fail at start, not at the first request, when etcd is unreachable.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Status(sctx, endpoints[0]); err != nil {
		b.close()
		return nil, fmt.Errorf("apiserver: etcd at %v does not answer: %w", endpoints, err)
	}
	return b, nil
}

// etcdClient is the server's own client of its etcd. The sole member of
// an embedded etcd is called in-process (its gRPC servers' functions, no
// socket): over loopback TLS every request and watch event cost a TLS
// record and HTTP/2 frames each way, a third of the server's CPU per pod
// start (bench/podstart). A member of several keeps the network client:
// its watches need RequireLeader, which only etcd's gRPC interceptors
// honour, to fail rather than hang when the member is cut off.
func etcdClient(b *etcdBackend, endpoints []string, cfg *Config) (*clientv3.Client, error) {
	if b.embedded != nil && !b.clustered {
		return v3client.New(b.embedded.Server), nil
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		TLS:         cfg.EtcdTLS,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("apiserver: connect to etcd %v: %w", endpoints, err)
	}
	return cli, nil
}

func (b *etcdBackend) close() {
	if b.client != nil {
		b.client.Close()
	}
	if b.embedded != nil {
		b.embedded.Close()
	}
}
