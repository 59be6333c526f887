package nodeagent

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/nodeagent/shim"
	"github.com/skiff-sh/skiff/ports"
	"github.com/skiff-sh/skiff/quantity"
)

// Config is what an agent needs; zero values get defaults.
type Config struct {
	Client   *client.Client
	NodeName string // default: the host name
	// DataDir keeps what survives reboots (images, volumes, container
	// state); RunDir what does not (namespace mounts, pod files).
	DataDir string
	RunDir  string
	// TmpfsRunDir mounts a tmpfs on RunDir when it is on a disk and
	// empty (see mountRunDir). skiff agent and skiff up set it; tests
	// that make an agent by hand on a temporary directory do not.
	TmpfsRunDir bool
	// Listen is the agent's gRPC address (logs, exec); the API server
	// dials AdvertiseAddress with Listen's port. ServerTLS, when set,
	// secures it with the node's serving certificate and requires the API
	// server's client certificate.
	Listen           string
	AdvertiseAddress string
	ServerTLS        *tls.Config
	// ClusterCIDR is blackholed so pod traffic never leaves by the default
	// route; BridgeName is the node bridge.
	ClusterCIDR string
	BridgeName  string
	// ServiceCIDR holds the ClusterIPs; it is blackholed like the cluster
	// CIDR, and the proxy's rules translate its addresses before routing.
	ServiceCIDR string
	// HostNetNS is the network namespace that plays the node's (bridge,
	// routes); empty means the agent's own. Tests and kind-like clusters
	// set it.
	HostNetNS string
	// ClusterDNS is the nameserver written into pods' resolv.conf; empty
	// means the kube-system/kube-dns Service's ClusterIP when the cluster
	// has one, else the node's bridge address (where `skiff up` serves
	// DNS).
	ClusterDNS    string
	ClusterDomain string
	// ResolvConf is the node's resolver configuration, what a pod with
	// dnsPolicy Default gets; /etc/resolv.conf by default.
	ResolvConf string
	// InsecureRegistries are reached over plain HTTP (loopback always is).
	InsecureRegistries []string
	// Registries are mirrors images are looked for at before their own
	// registry (a registries.yaml, as k3s's).
	Registries image.Registries
	// ImageTransport pulls images (nil: Go's default); it trusts the
	// cluster CA, as the cluster registry serves TLS.
	ImageTransport http.RoundTripper
	// Reserved is kept back from the node's capacity for the system.
	ReservedCPU    string
	ReservedMemory string
	MaxPods        int
	// HeartbeatInterval is how often the node renews its Lease (its
	// heartbeat) and looks whether its Node's status changed;
	// StatusReportInterval how long the Node's status may go unwritten
	// when nothing changed (Kubernetes' nodeStatusReportFrequency, 5m);
	// ResyncInterval how often each pod worker looks again on its own
	// (probes, restarts, status).
	HeartbeatInterval    time.Duration
	StatusReportInterval time.Duration
	ResyncInterval       time.Duration
	// UsageInterval is how often container usage is read and reported.
	UsageInterval time.Duration
	// BackoffBase and BackoffMax bound the wait before restarting a
	// crashing container (10s doubling to 5m); a container that ran for
	// BackoffReset starts over.
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	BackoffReset time.Duration
	// ImageStoreLimit is how many bytes of images the node keeps; above
	// it, images no pod uses go, least recently used first.
	ImageStoreLimit int64
	// Binary is started as container supervisors and inits. Default: the
	// shim (see package shim), found or installed under DataDir.
	Binary     string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Labels are added to the Node.
	Labels map[string]string
}

func (c *Config) setDefaults() error {
	if c.Client == nil {
		return fmt.Errorf("nodeagent: no API client")
	}
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("nodeagent: node name: %w", err)
		}
		c.NodeName = h
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/skiff/agent"
	}
	if c.RunDir == "" {
		c.RunDir = "/run/skiff/agent"
	}
	if c.Listen == "" {
		c.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Agent))
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = defaults.ClusterCIDR
	}
	if _, err := netip.ParsePrefix(c.ClusterCIDR); err != nil {
		return fmt.Errorf("nodeagent: --cluster-cidr %q: %w", c.ClusterCIDR, err)
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = defaults.ServiceCIDR
	}
	if _, err := netip.ParsePrefix(c.ServiceCIDR); err != nil {
		return fmt.Errorf("nodeagent: --service-cidr %q: %w", c.ServiceCIDR, err)
	}
	if c.BridgeName == "" {
		c.BridgeName = defaults.Bridge
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = defaults.ClusterDomain
	}
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
	if c.MaxPods == 0 {
		c.MaxPods = 110
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.StatusReportInterval == 0 {
		c.StatusReportInterval = 5 * time.Minute
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = time.Second
	}
	if c.ImageStoreLimit == 0 {
		c.ImageStoreLimit = 10 << 30
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = 10 * time.Second
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.BackoffReset == 0 {
		c.BackoffReset = 10 * time.Minute
	}
	if c.UsageInterval == 0 {
		c.UsageInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	for flag, v := range map[string]string{"--reserved-cpu": c.ReservedCPU, "--reserved-memory": c.ReservedMemory} {
		if v == "" {
			continue
		}
		if _, err := quantity.Parse(v); err != nil {
			return fmt.Errorf("nodeagent: %s: %w", flag, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("nodeagent: --listen %q: %w", c.Listen, err)
	}
	if c.AdvertiseAddress == "" {
		host, _, _ := net.SplitHostPort(c.Listen)
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			c.AdvertiseAddress = host
		} else {
			c.AdvertiseAddress = "127.0.0.1"
		}
	}
	return nil
}

func (c *Config) podDir(uid string) string     { return filepath.Join(c.RunDir, "pods", uid) }
func (c *Config) podDataDir(uid string) string { return filepath.Join(c.DataDir, "pods", uid) }

// containerBinary is the program containers are started with: Binary when
// set, else the best shim package shim finds.
func (c *Config) containerBinary() (string, error) {
	if c.Binary != "" {
		return c.Binary, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("nodeagent: find own binary: %w", err)
	}
	path, source, err := shim.Locate(filepath.Join(c.DataDir, "shim"), exe)
	if err != nil {
		c.Logger.Warn("containers start from a slower program than the shim", "program", path, "reason", err)
	}
	c.Logger.Info("container shim", "path", path, "source", string(source))
	return path, nil
}
