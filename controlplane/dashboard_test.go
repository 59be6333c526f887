package controlplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/apiserver/audit"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func startWithDashboard(t *testing.T, insecure bool) (*ControlPlane, Config) {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0",
		ClusterCIDR: "10.88.0.0/16", ClientConfig: filepath.Join(dir, "cli", "config"), ClusterDomain: "cluster.local",
		DashboardListen: "127.0.0.1:0", Insecure: insecure,
		Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("control plane: %v", err)
		}
	})
	cp, err := Start(gctx, g, cfg)
	if err != nil || cp == nil {
		t.Fatalf("start: %v", err)
	}
	return cp, cfg
}

// skiff server serves the dashboard with its certificate; a token from
// the Tokens service (as `skiff dashboard` asks) logs in, and an action
// from the page lands in the audit log as the admin, grouped as the
// dashboard's.
func TestDashboardServedAndAudited(t *testing.T) {
	cp, cfg := startWithDashboard(t, false)
	ctx := testCtx(t)
	if cp.DashboardAddr() == "" {
		t.Fatal("no dashboard address")
	}
	opts, err := client.OptionsFor(cfg.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cp.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	tok, err := skiffv1.NewTokensClient(admin.Conn()).Create(ctx, &skiffv1.CreateTokenRequest{TtlSeconds: 60, Usage: pki.UsageDashboard})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Deployments().Create(ctx, &skiffv1.Deployment{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: &skiffv1.DeploymentSpec{
		Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "demo:latest"}}}},
	}}); err != nil {
		t.Fatal(err)
	}

	// The browser trusts the cluster CA written next to the config.
	caPEM, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.ClientConfig), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + cp.DashboardAddr()
	resp, err := hc.Post(base+"/login", "application/json", strings.NewReader(`{"token":"`+tok.Token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Role, CSRFToken string
	}
	json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || sess.Role != "admin" {
		t.Fatalf("login: %s %+v", resp.Status, sess)
	}
	req, _ := http.NewRequest("POST", base+"/api/actions/scale", strings.NewReader(`{"kind":"deployments","namespace":"default","name":"web","replicas":2}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", sess.CSRFToken)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scale: %s", resp.Status)
	}

	f, err := os.Open(filepath.Join(cfg.DataDir, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e audit.Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Method == skiffv1.Objects_Update_FullMethodName && e.Name == "web" &&
			e.User == pki.Admin && slices.Contains(e.Groups, pki.DashboardGroup) && e.Code == "OK" {
			found = true
		}
	}
	if !found {
		t.Fatal("no audit entry for the dashboard's update of deployments/default/web as admin in group " + pki.DashboardGroup)
	}
}

// An insecure server has no logins, so no dashboard.
func TestInsecureServerHasNoDashboard(t *testing.T) {
	cp, _ := startWithDashboard(t, true)
	if addr := cp.DashboardAddr(); addr != "" {
		t.Fatalf("an insecure server serves a dashboard at %s", addr)
	}
}
