package controlplane

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/internal/testport"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// freePort is a loopback address no one listens on now.
func freePort(t *testing.T) string { return testport.Loopback(t) }

// clusterServer is one server of a test's cluster, stopped by stop (or
// when the test ends).
type clusterServer struct {
	cp   *ControlPlane
	cfg  Config
	stop func()
}

// startMember runs a server of several; join empty starts the cluster.
func startMember(t *testing.T, name, join, token string) *clusterServer {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", EtcdListen: freePort(t),
		ClusterCIDR: "10.88.0.0/16", ClusterDomain: "cluster.local", ClientConfig: filepath.Join(dir, "cli", "config"),
		Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		ServerName: name, EtcdPeerListen: freePort(t),
		ClusterInit: join == "", JoinServer: join, JoinToken: token,
	}
	return runMember(t, cfg)
}

func runMember(t *testing.T, cfg Config) *clusterServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("server %s: %v", cfg.ServerName, err)
		}
	}
	t.Cleanup(stop)
	cp, err := Start(gctx, g, cfg)
	if err != nil {
		t.Fatalf("server %s: %v", cfg.ServerName, err)
	}
	if cp == nil {
		t.Fatalf("server %s did not get ready", cfg.ServerName)
	}
	return &clusterServer{cp: cp, cfg: cfg, stop: stop}
}

func serverToken(t *testing.T, s *clusterServer) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.cfg.DataDir, ServerTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Three servers, the third joining through the second: each is an etcd
// member, what is written through one is read through another (Secrets
// too: the servers share the keys), the server list names all three, the
// cluster keeps serving writes without its first server, and the removed
// server's member leaves.
func TestThreeServersShareOneEtcd(t *testing.T) {
	ctx := testCtx(t)
	s1 := startMember(t, "s1", "", "")
	tok := serverToken(t, s1)
	s2 := startMember(t, "s2", "https://"+s1.cp.Addr(), tok)
	s3 := startMember(t, "s3", "https://"+s2.cp.Addr(), tok)

	members, err := s3.cp.etcd.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range members.Members {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "s1,s2,s3" {
		t.Fatalf("etcd members %v, want s1, s2 and s3", names)
	}

	// s3's command line knows the servers that were there when it joined.
	written, err := client.LoadConfig(s3.cfg.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	if got := client.SplitServers(written.Server); len(got) != 3 || got[0] != s3.cp.Addr() {
		t.Fatalf("s3's client config names servers %v, want s3 (%s) then s1 and s2", got, s3.cp.Addr())
	}

	// The agents' default token of s1 works at s3 too.
	agentToken, err := os.ReadFile(filepath.Join(s1.cfg.DataDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s3.cp.pki.tokens.Validate(strings.TrimSpace(string(agentToken))); err != nil || info.UsageOrDefault() != pki.UsageJoin {
		t.Fatalf("s1's agent token at s3: %+v %v", info, err)
	}

	c1, err := s1.cp.Client(pki.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c3, err := s3.cp.Client(pki.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	secret := &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Name: "s", Namespace: "default"}, Data: map[string][]byte{"k": []byte("v")}}
	if _, err := c1.Secrets().Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	got, err := c3.Secrets().Get(ctx, "default", "s")
	if err != nil {
		t.Fatalf("a Secret written through s1, read through s3: %v", err)
	}
	if string(got.GetData()["k"]) != "v" {
		t.Fatalf("Secret through s3 holds %q, want v", got.GetData()["k"])
	}

	waitServers(t, ctx, s3.cp, 3)
	list := wantServerList(t, ctx, c3, "s3", map[string]string{"s1": ServerHealthy, "s2": ServerHealthy, "s3": ServerHealthy})
	for _, s := range []*clusterServer{s1, s2, s3} {
		if got := list[s.cfg.ServerName].GetAddress(); got != s.cp.Addr() {
			t.Fatalf("server list: %s at %q, want %s", s.cfg.ServerName, got, s.cp.Addr())
		}
	}
	leaders := 0
	for _, s := range list {
		if s.GetLeader() {
			leaders++
		}
		if s.GetEtcdMember() == "" || s.GetStarted() == nil {
			t.Fatalf("server list: %v lacks its etcd member or start time", s)
		}
	}
	if leaders != 1 {
		t.Fatalf("server list marks %d etcd leaders, want 1: %v", leaders, list)
	}

	// A usage report to s1 is answered by s3.
	report := &skiffv1.UsageReport{Node: "n1", NodeUsage: &skiffv1.ResourceUsage{CpuCores: 0.25},
		Pods: []*skiffv1.PodUsage{{Namespace: "default", Name: "web", Usage: &skiffv1.ResourceUsage{CpuCores: 0.125}}}}
	if _, err := skiffv1.NewUsageClient(c1.Conn()).Report(ctx, report); err != nil {
		t.Fatal(err)
	}
	for {
		snap, err := skiffv1.NewUsageClient(c3.Conn()).Get(ctx, &skiffv1.UsageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.GetNodes()) == 1 && snap.GetNodes()[0].GetName() == "n1" && len(snap.GetPods()) == 1 && snap.GetPods()[0].GetUsage().GetCpuCores() == 0.125 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("s3 never answered s1's usage report: %v", snap)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// Without s1 the other two still have a quorum.
	s1.stop()
	cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: "after", Namespace: "default"}, Data: map[string]string{"a": "b"}}
	if _, err := c3.ConfigMaps().Create(ctx, cm); err != nil {
		t.Fatalf("write with s1 stopped: %v", err)
	}
	waitServers(t, ctx, s3.cp, 2)
	wantServerList(t, ctx, c3, "s3", map[string]string{"s1": ServerDown, "s2": ServerHealthy, "s3": ServerHealthy})

	if err := RemoveServer(ctx, s2.cfg.DataDir, s2.cfg.EtcdListen, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveServer(ctx, s2.cfg.DataDir, s2.cfg.EtcdListen, "s1"); !errors.Is(err, errNotMember) {
		t.Fatalf("removing s1 twice: %v, want %v", err, errNotMember)
	}
	members, err = s2.cp.etcd.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 2 {
		t.Fatalf("%d etcd members after removing s1, want 2", len(members.Members))
	}
	wantServerList(t, ctx, c3, "s3", map[string]string{"s2": ServerHealthy, "s3": ServerHealthy})

	// Viewers may list the servers; nodes may not.
	viewer, err := s2.cp.Client(pki.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	wantServerList(t, ctx, viewer, "s2", map[string]string{"s2": ServerHealthy, "s3": ServerHealthy})
	node, err := s2.cp.Client(pki.NodeIdentity("n1").Name)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if _, err := skiffv1.NewServersClient(node.Conn()).List(ctx, &skiffv1.ListServersRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a node listing the servers: %v, want PermissionDenied", err)
	}
}

// wantServerList lists the servers through c, answered by the server
// named by, until each named server has the health wanted and there are
// no others (a stopped server's registration lasts its lease), and
// returns them by name.
func wantServerList(t *testing.T, ctx context.Context, c *client.Client, by string, want map[string]string) map[string]*skiffv1.ServerInfo {
	t.Helper()
	for {
		resp, err := skiffv1.NewServersClient(c.Conn()).List(ctx, &skiffv1.ListServersRequest{})
		got := map[string]*skiffv1.ServerInfo{}
		ok := err == nil && resp.GetAnsweredBy() == by && len(resp.GetServers()) == len(want)
		for _, s := range resp.GetServers() {
			got[s.GetName()] = s
			ok = ok && want[s.GetName()] == s.GetHealth()
		}
		if ok {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server list %v (%v), want %v answered by %s", resp, err, want, by)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitServers waits for the server list to hold n servers.
func waitServers(t *testing.T, ctx context.Context, cp *ControlPlane, n int) {
	t.Helper()
	for {
		list, err := cp.Servers(ctx)
		if err == nil && len(list) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server list %v (%v), want %d servers", list, err, n)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// A server token is needed to join: the agents' join token is refused
// before any member is added.
func TestServerJoinNeedsServerToken(t *testing.T) {
	s1 := startMember(t, "s1", "", "")
	b, err := os.ReadFile(filepath.Join(s1.cfg.DataDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	cfg := Config{
		DataDir: filepath.Join(t.TempDir(), "server"), Listen: "127.0.0.1:0", ServerName: "s2",
		EtcdPeerListen: freePort(t), JoinServer: "https://" + s1.cp.Addr(), JoinToken: strings.TrimSpace(string(b)),
	}
	if _, err := prepareCluster(ctx, cfg); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("joining with the agents' token: %v, want a refusal naming the token", err)
	}
	members, err := s1.cp.etcd.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 1 {
		t.Fatalf("%d etcd members after a refused join, want 1", len(members.Members))
	}
}
