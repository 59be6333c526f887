package dnsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/ports"
)

// Config is what New needs. Zero values take the defaults below.
type Config struct {
	// Client reaches the API server; the server watches services and pods
	// through it. Required unless Backend is set.
	Client *client.Client
	// Informers, when set, are the process's shared informers (the
	// server runs DNS beside the scheduler and controllers); nil: the
	// server reads through informers of its own made on Client.
	Informers *client.SharedInformers
	// Backend replaces the API server as the source of records (tests and
	// benchmarks use a MemoryBackend).
	Backend Backend
	// Listen is the UDP and TCP address; default ":53" (ports.DNS). Port
	// 0 picks a free port, the same for both (see Server.Addr).
	Listen string
	// Domain is the cluster domain; default defaults.ClusterDomain.
	Domain string
	// TTL of every cluster record, whole seconds; default 5s.
	TTL time.Duration
	// Upstreams take every other name, "ip" or "ip:port" (no host names:
	// there is nobody to resolve them). Default: the nameservers of
	// /etc/resolv.conf.
	Upstreams []string
	// ForwardTimeout bounds one forwarded query over all upstreams, after
	// which the client gets SERVFAIL; default 1s (clients wait 2–5 s).
	ForwardTimeout time.Duration
	// CacheSize is how many forwarded answers are kept; default 10000,
	// negative for none.
	CacheSize int
	// UDPWorkers is how many goroutines read the UDP socket; default
	// twice GOMAXPROCS.
	UDPWorkers int
	// Logger; default discards.
	Logger *slog.Logger
	// Metrics registers the server's collectors; nil registers nowhere.
	Metrics prometheus.Registerer

	resolvConf string // for tests; default /etc/resolv.conf
}

const (
	defaultDomain         = defaults.ClusterDomain
	defaultTTL            = 5 * time.Second
	defaultForwardTimeout = time.Second
	defaultCacheSize      = 10000
	cacheMaxTTL           = time.Minute
	maxInflightForwards   = 1024
)

// withDefaults fills in defaults and checks every field, naming the one
// that is wrong.
func (c Config) withDefaults() (Config, error) {
	if c.Client == nil && c.Backend == nil {
		return c, errors.New("dnsserver: Config.Client is required")
	}
	if c.Listen == "" {
		c.Listen = net.JoinHostPort("", strconv.Itoa(ports.DNS))
	}
	if _, err := netip.ParseAddrPort(normalizeHostPort(c.Listen)); err != nil {
		return c, fmt.Errorf("dnsserver: Config.Listen %q: want ip:port: %w", c.Listen, err)
	}
	if c.Domain == "" {
		c.Domain = defaultDomain
	}
	c.Domain = dns.CanonicalName(c.Domain)
	if _, ok := dns.IsDomainName(c.Domain); !ok || c.Domain == "." || len(c.Domain) > 200 {
		return c, fmt.Errorf("dnsserver: Config.Domain %q is not a usable domain name", c.Domain)
	}
	if c.TTL == 0 {
		c.TTL = defaultTTL
	}
	if c.TTL < time.Second || c.TTL > time.Hour || c.TTL%time.Second != 0 {
		return c, fmt.Errorf("dnsserver: Config.TTL %v: want whole seconds between 1s and 1h", c.TTL)
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = defaultForwardTimeout
	}
	if c.ForwardTimeout < 10*time.Millisecond {
		return c, fmt.Errorf("dnsserver: Config.ForwardTimeout %v is too short", c.ForwardTimeout)
	}
	if c.CacheSize == 0 {
		c.CacheSize = defaultCacheSize
	}
	if c.UDPWorkers <= 0 {
		c.UDPWorkers = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Upstreams == nil {
		if c.resolvConf == "" {
			c.resolvConf = "/etc/resolv.conf"
		}
		c.Upstreams = resolvConfUpstreams(c.resolvConf, c.Listen, c.Logger)
	}
	ups := make([]string, 0, len(c.Upstreams))
	for _, u := range c.Upstreams {
		ap, err := upstreamAddr(u)
		if err != nil {
			return c, fmt.Errorf("dnsserver: Config.Upstreams %q: %w", u, err)
		}
		ups = append(ups, ap.String())
	}
	c.Upstreams = ups
	return c, nil
}

// upstreamAddr reads "ip" or "ip:port" (port 53 by default).
func upstreamAddr(s string) (netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip, 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, fmt.Errorf("want an IP address, optionally with :port: %w", err)
	}
	return ap, nil
}

// normalizeHostPort turns ":53" into "0.0.0.0:53" for parsing.
func normalizeHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err == nil && host == "" {
		return net.JoinHostPort("0.0.0.0", port)
	}
	return s
}

// resolvConfUpstreams reads the host's nameservers, leaving out our own
// address (forwarding to ourselves would loop).
func resolvConfUpstreams(path, listen string, log *slog.Logger) []string {
	if _, err := os.Stat(path); err != nil {
		log.Warn("no upstream DNS servers: names outside the cluster will get SERVFAIL", "resolv_conf", path, "err", err)
		return []string{}
	}
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		log.Warn("cannot read resolv.conf: names outside the cluster will get SERVFAIL", "path", path, "err", err)
		return []string{}
	}
	self, _ := netip.ParseAddrPort(normalizeHostPort(listen))
	out := []string{}
	for _, s := range cc.Servers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		ap := netip.AddrPortFrom(ip, 53)
		if cc.Port != "" {
			if a, err := netip.ParseAddrPort(net.JoinHostPort(s, cc.Port)); err == nil {
				ap = a
			}
		}
		if ap == self {
			continue
		}
		out = append(out, ap.String())
	}
	return out
}
