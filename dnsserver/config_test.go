package dnsserver

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(rc, []byte("search example.com\nnameserver 192.0.2.53\nnameserver 127.0.0.1\nnameserver fd00::53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{Backend: NewMemoryBackend(), Listen: "127.0.0.1:53", resolvConf: rc}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	// Our own address is left out: forwarding to ourselves would loop.
	if want := []string{"192.0.2.53:53", "[fd00::53]:53"}; !slices.Equal(cfg.Upstreams, want) {
		t.Errorf("upstreams %v, want %v", cfg.Upstreams, want)
	}
	if cfg.Domain != "cluster.local." || cfg.TTL != 5*time.Second || cfg.ForwardTimeout != time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = Config{Backend: NewMemoryBackend(), resolvConf: filepath.Join(t.TempDir(), "missing")}.withDefaults()
	if err != nil || len(cfg.Upstreams) != 0 || cfg.Listen != ":53" {
		t.Errorf("missing resolv.conf: %v %v %q", err, cfg.Upstreams, cfg.Listen)
	}
}

func TestConfigErrors(t *testing.T) {
	b := NewMemoryBackend()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Config.Client is required"},
		{Config{Backend: b, Listen: "nope"}, "Config.Listen"},
		{Config{Backend: b, Domain: "bad..domain"}, "Config.Domain"},
		{Config{Backend: b, TTL: 1500 * time.Millisecond}, "Config.TTL"},
		{Config{Backend: b, TTL: 2 * time.Hour}, "Config.TTL"},
		{Config{Backend: b, Upstreams: []string{"dns.google"}}, "Config.Upstreams"},
		{Config{Backend: b, ForwardTimeout: time.Millisecond}, "Config.ForwardTimeout"},
	} {
		_, err := c.cfg.withDefaults()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %s", c.cfg, err, c.want)
		}
	}
}

// Another domain works the same way.
func TestCustomDomain(t *testing.T) {
	b := NewMemoryBackend()
	b.SetService(Service{Namespace: "ns", Name: "s", Endpoints: eps("10.5.0.1")})
	ts := startServer(t, Config{Backend: b, Domain: "Corp.Example", TTL: 30 * time.Second})
	resp := ts.exchange(t, query("s.ns.svc.corp.example.", 1), "udp")
	if len(resp.Answer) != 1 || resp.Answer[0].Header().Ttl != 30 {
		t.Fatalf("custom domain: %v", resp)
	}
	if resp := ts.exchange(t, query("s.ns.svc.cluster.local.", 1), "udp"); resp.Rcode != 2 {
		t.Fatalf("cluster.local with no upstream: want SERVFAIL, got %v", resp)
	}
}
