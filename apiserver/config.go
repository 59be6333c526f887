package apiserver

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/ports"
)

// Config is everything the API server needs; zero values get defaults.
type Config struct {
	// DataDir holds the embedded etcd's data (DataDir/etcd).
	DataDir string
	// Listen is the gRPC address, e.g. "127.0.0.1:6443"; port 0 picks one.
	Listen string
	// EtcdEndpoints, when set, uses an external etcd cluster instead of
	// the embedded one; EtcdTLS is its client TLS configuration.
	EtcdEndpoints []string
	EtcdTLS       *tls.Config
	// EtcdListen is where the embedded etcd serves clients (loopback only).
	EtcdListen string
	// EtcdServing, when set, makes the embedded etcd serve TLS and demand
	// a client certificate (EtcdTLS then holds the server's own). Without
	// it the embedded etcd serves plain HTTP on loopback, which any local
	// user can reach: for tests and --insecure only.
	EtcdServing *EtcdServing
	// EtcdMember, when set, makes the embedded etcd one member of a
	// cluster of servers (skiff server --cluster-init / --server) instead
	// of a cluster of its own.
	EtcdMember *EtcdMember
	// ClusterCIDR is split into one NodeCIDRBits-sized block per node.
	ClusterCIDR  string
	NodeCIDRBits int
	// ServiceCIDR is where Services' ClusterIPs are allocated.
	ServiceCIDR string
	// CompactInterval and HistoryKept drive etcd compaction.
	CompactInterval time.Duration
	HistoryKept     time.Duration
	// EventTTL is how long events live.
	EventTTL time.Duration
	// EventsPerNamespace is the most events a namespace holds (5000 if
	// zero); more are refused until older ones expire, so events cannot
	// fill etcd's quota.
	EventsPerNamespace int
	// DisableWatchCache serves every watch with an etcd watch of its own
	// and every list from etcd (skiff server --watch-cache=false) instead
	// of from the watch cache (apiserver/watchcache); WatchCacheSize is how many recent events the
	// cache keeps per kind (4096 if zero).
	DisableWatchCache bool
	WatchCacheSize    int
	// WatchCacheQueue is how many events a watch may fall behind before
	// it is ended with ResourceExhausted and its client resumes (1024 if
	// zero).
	WatchCacheQueue int
	// UnsafeNoFsync skips etcd's fsync: for tests only.
	UnsafeNoFsync bool
	Logger        *slog.Logger
	// Registerer receives the server's metrics; nil means none.
	Registerer prometheus.Registerer
	// RegisterServices adds more gRPC services to the server (log and exec
	// proxies, usage reports) before it starts.
	RegisterServices func(*grpc.Server)
	// GRPCOptions are added to the server's options (credentials,
	// authentication and authorization interceptors).
	GRPCOptions []grpc.ServerOption
	// ServerOptions, when set, makes more options from the server itself,
	// once it exists (an authorizer that reads stored pods through
	// GetPod); they follow GRPCOptions.
	ServerOptions func(*Server) []grpc.ServerOption
	// Join, when set, serves the Join and Tokens services: node
	// certificates signed by its CA, against its join tokens and node
	// passwords (NewJoinService, reading Nodes through this server).
	Join *JoinConfig
	// AgentTLS, when set, is how the server dials node agents (logs,
	// exec): its client certificate and the CA; each agent must present
	// the certificate of node:<its node>.
	AgentTLS *tls.Config
	// SecretKeyFile holds the keys that encrypt Secrets in etcd
	// (default <DataDir>/pki/secret-encryption-keys, made with one key on
	// first start, mode 0600). RotateSecretKey adds a new key to it at
	// start; every Secret is then re-encrypted under the new key.
	SecretKeyFile   string
	RotateSecretKey bool
}

// JoinConfig is what the join service signs with and keeps its records in.
type JoinConfig struct {
	CA     *pki.CA
	Tokens *pki.TokenStore
	Nodes  *pki.NodeStore
}

// EtcdServing is the embedded etcd's TLS: its serving certificate and the
// CA whose client certificates it accepts, PEM files all. Only client
// certificates whose subject CN is one of AllowedCNs get in, so a
// certificate of the same CA issued for another purpose (a node's) does
// not. ClientCertFile and ClientKeyFile, one of those allowed, are what
// etcd presents to itself (its HTTP gateway dials its gRPC server).
type EtcdServing struct {
	CertFile, KeyFile, CAFile     string
	ClientCertFile, ClientKeyFile string
	AllowedCNs                    []string
}

// EtcdMember is the embedded etcd's place in a cluster of servers: its
// name, the URL it serves peers on (listened on and advertised), the peer
// TLS (PEM files; peers must present a certificate of CAFile with a CN in
// AllowedCN), and the cluster it starts or joins. InitialCluster and
// ClusterState ("new" for the first server, "existing" for one joining)
// matter only on the first start: later ones read the membership from
// the member's own data.
type EtcdMember struct {
	Name              string
	PeerURL           string
	CertFile, KeyFile string
	CAFile, AllowedCN string
	InitialCluster    string
	ClusterState      string
}

func (c *Config) setDefaults() error {
	if c.Listen == "" {
		c.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.API))
	}
	if c.EtcdListen == "" {
		c.EtcdListen = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Etcd))
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = defaults.ClusterCIDR
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = defaults.ServiceCIDR
	}
	if c.NodeCIDRBits == 0 {
		c.NodeCIDRBits = 24
	}
	if c.CompactInterval == 0 {
		c.CompactInterval = time.Minute
	}
	if c.HistoryKept == 0 {
		c.HistoryKept = 5 * time.Minute
	}
	if c.EventTTL == 0 {
		c.EventTTL = time.Hour
	}
	if c.EventsPerNamespace == 0 {
		c.EventsPerNamespace = 5000
	}
	if c.WatchCacheSize < 0 || c.WatchCacheQueue < 0 {
		return fmt.Errorf("apiserver: WatchCacheSize %d and WatchCacheQueue %d must not be negative", c.WatchCacheSize, c.WatchCacheQueue)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if len(c.EtcdEndpoints) == 0 && c.DataDir == "" {
		return fmt.Errorf("apiserver: --data-dir is required for the embedded etcd")
	}
	if c.SecretKeyFile == "" {
		if c.DataDir == "" {
			return fmt.Errorf("apiserver: --data-dir is required: it holds the key that encrypts Secrets")
		}
		c.SecretKeyFile = filepath.Join(c.DataDir, "pki", "secret-encryption-keys")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("apiserver: --listen %q: %w", c.Listen, err)
	}
	host, _, err := net.SplitHostPort(c.EtcdListen)
	if err != nil {
		return fmt.Errorf("apiserver: --etcd-listen %q: %w", c.EtcdListen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("apiserver: --etcd-listen %q: the embedded etcd listens on loopback only", c.EtcdListen)
	}
	if c.EtcdServing != nil && (c.EtcdServing.CertFile == "" || c.EtcdServing.KeyFile == "" || c.EtcdServing.CAFile == "" || len(c.EtcdServing.AllowedCNs) == 0 || c.EtcdServing.ClientCertFile == "" || c.EtcdServing.ClientKeyFile == "") {
		return fmt.Errorf("apiserver: EtcdServing needs a certificate, key, CA, allowed client names and a client certificate")
	}
	if c.EtcdServing != nil && c.EtcdTLS == nil {
		return fmt.Errorf("apiserver: an embedded etcd with TLS needs EtcdTLS (the server's client certificate)")
	}
	p, err := netip.ParsePrefix(c.ClusterCIDR)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("apiserver: --cluster-cidr %q is not an IPv4 CIDR", c.ClusterCIDR)
	}
	if c.NodeCIDRBits <= p.Bits() || c.NodeCIDRBits > 30 {
		return fmt.Errorf("apiserver: node CIDR size /%d must be longer than the cluster CIDR /%d and at most /30", c.NodeCIDRBits, p.Bits())
	}
	return nil
}
