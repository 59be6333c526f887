package dashboard

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/cdp"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// chromium finds Debian's Chromium (make deps installs it).
func chromium(t testing.TB) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("needs chromium: make deps installs Debian's package")
	return ""
}

// screenshots go to $SKIFF_SCREENSHOTS when set (to look at them), else
// to the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SKIFF_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

type tab struct {
	t   testing.TB
	p   *cdp.Page
	b   *cdp.Browser
	dir string
}

func (tb *tab) wait(ctx context.Context, what, expr string) {
	tb.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := tb.p.WaitTrue(wctx, expr); err != nil {
		var body string
		tb.p.Eval(ctx, "document.body ? document.body.innerText : ''", &body)
		tb.t.Fatalf("%s: %v\npage text:\n%s", what, err, body)
	}
}

func (tb *tab) eval(ctx context.Context, expr string, out any) {
	tb.t.Helper()
	if err := tb.p.Eval(ctx, expr, out); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) shot(ctx context.Context, name string) {
	tb.t.Helper()
	png, err := tb.p.Screenshot(ctx)
	if err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tb.dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// open logs a new, isolated tab in with token (none: stays logged out).
func (e *env) open(ctx context.Context, t testing.TB, b *cdp.Browser, dir, token string) *tab {
	t.Helper()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatalf("%v\nchromium:\n%s", err, b.Stderr())
	}
	tb := &tab{t: t, p: p, b: b, dir: dir}
	if token == "" {
		return tb
	}
	// Chromium drops loads when the host's network changes, which other
	// tests' namespaces and links do: a login that did not get through is
	// tried again with a new token of the same usage.
	info, err := e.tokens.Validate(token)
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		if err := p.Navigate(ctx, e.url+"/login#token="+url.QueryEscape(token)); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := p.WaitTrue(wctx, `document.body && document.body.dataset.rendered === "overview"`)
		cancel()
		if err == nil {
			return tb
		}
		var where string
		p.Eval(ctx, `location.href + " " + (document.body ? document.body.innerText : "")`, &where)
		if attempt == 3 {
			t.Fatalf("log in and render the overview: %v\npage: %s", err, where)
		}
		t.Logf("login attempt %d: %v; page: %s", attempt, err, where)
		token = e.token(t, info.Usage, time.Minute)
	}
}

// The dashboard in a real headless Chromium against a real API server:
// log in with a token; the overview shows the test's node and pods; a
// Deployment created through the API appears without a reload; a
// crash-looping pod shows its reason; scaling from the page changes the
// object; a read-only session cannot; no session, no page.
func TestDashboardInBrowser(t *testing.T) {
	bin := chromium(t)
	if testing.Short() {
		t.Skip("starts a browser")
	}
	e := startEnv(t)
	seed(t, e)
	agent := serveNodeLogs(t, e)
	// A browser on a loaded 2-core machine, under -race: minutes, not
	// the seconds each step takes alone.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := cdp.Launch(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium:\n%s", b.Stderr())
		}
		b.Close()
	})
	dir := screenshotDir(t)

	// No session: the page sends the browser to the login page, and the
	// API refuses a fetch.
	anon := e.open(ctx, t, b, dir, "")
	if err := anon.p.Navigate(ctx, e.url+"/"); err != nil {
		t.Fatal(err)
	}
	anon.wait(ctx, "redirect to the login page", `location.pathname === "/login" && document.getElementById("login-form")`)
	var status int
	anon.eval(ctx, `fetch("/api/overview").then(r => r.status)`, &status)
	if status != 401 {
		t.Fatalf("anonymous fetch of the overview: %d, want 401", status)
	}
	anon.shot(ctx, "login")

	start := time.Now()
	admin := e.open(ctx, t, b, dir, e.token(t, pki.UsageDashboard, time.Minute))
	t.Logf("login to rendered overview: %v", time.Since(start).Round(time.Millisecond))
	var firstRender float64
	admin.eval(ctx, `window.__firstRender`, &firstRender)
	t.Logf("page navigation to first render: %.0f ms", firstRender)
	admin.eval(ctx, `window.__csp = []; document.addEventListener("securitypolicyviolation", e => __csp.push(e.violatedDirective + " " + e.sample))`, nil)
	admin.wait(ctx, "the node and its bars", `document.querySelector('[data-node="n1"] .bar.cpu .req')`)
	// The bars have the widths of requests and usage against allocatable
	// (750m and 400m of 2 cores).
	var widths []float64
	admin.eval(ctx, `["req", "used"].map(c => { const b = document.querySelector('[data-node="n1"] .bar.cpu'); return b.querySelector("." + c).getBoundingClientRect().width / b.getBoundingClientRect().width })`, &widths)
	if len(widths) != 2 || widths[0] < 0.35 || widths[0] > 0.40 || widths[1] < 0.18 || widths[1] > 0.22 {
		t.Errorf("CPU bar widths %v, want 0.375 requested and 0.2 used", widths)
	}
	admin.wait(ctx, "pod counts", `document.querySelector('[data-phase="Running"]').textContent === "1" && document.querySelector('[data-phase="Pending"]').textContent === "1"`)
	var text string
	admin.eval(ctx, `document.querySelector("main.view").innerText`, &text)
	for _, want := range []string{"n1", "dedicated=web:NoSchedule", "req 750m", "BackOff", "crash-looping"} {
		if !strings.Contains(text, want) {
			t.Errorf("overview lacks %q:\n%s", want, text)
		}
	}
	admin.wait(ctx, "the live stream", `document.getElementById("live").textContent === "live"`)
	admin.shot(ctx, "overview")

	// A live update: a new node appears on the overview without a reload.
	admin.eval(ctx, `window.__noReload = 1`, nil)
	if _, err := e.api.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n2"}}); err != nil {
		t.Fatal(err)
	}
	admin.wait(ctx, "node n2 appears live", `document.querySelector('[data-node="n2"]') && window.__noReload === 1`)

	// A Deployment created through the API appears on the workloads page.
	admin.eval(ctx, `location.hash = "#/workloads"`, nil)
	admin.wait(ctx, "workloads", `document.body.dataset.rendered === "workloads"`)
	created := time.Now()
	if _, err := e.api.Client.Deployments().Create(ctx, deployment("shop", 2)); err != nil {
		t.Fatal(err)
	}
	admin.wait(ctx, "the new deployment appears live", `document.querySelector('[data-ready="default/shop"]') && window.__noReload === 1`)
	t.Logf("deployment created to shown: %v", time.Since(created).Round(time.Millisecond))
	admin.shot(ctx, "workloads")

	// Scale it from the page: button, confirmation, replicas.
	admin.eval(ctx, `document.querySelector('button[data-act="scale"][data-name="shop"]').click()`, nil)
	admin.wait(ctx, "the confirmation", `document.getElementById("confirm-replicas")`)
	admin.shot(ctx, "scale-confirm")
	admin.eval(ctx, `document.getElementById("confirm-replicas").value = "4"; document.getElementById("confirm-ok").click()`, nil)
	admin.wait(ctx, "the result", `document.getElementById("action-result")`)
	d, err := e.api.Client.Deployments().Get(ctx, "default", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetSpec().GetReplicas() != 4 {
		t.Fatalf("replicas after scaling from the page: %d, want 4", d.GetSpec().GetReplicas())
	}
	admin.wait(ctx, "the page shows the new replicas", `document.querySelector('[data-ready="default/shop"]').textContent === "0/4"`)

	// The crash-looping pod shows its reason in the list and on its page.
	admin.eval(ctx, `location.hash = "#/pods"`, nil)
	admin.wait(ctx, "pods", `document.body.dataset.rendered === "pods" && document.querySelector("main.view").innerText.includes("CrashLoopBackOff")`)
	admin.shot(ctx, "pods")
	admin.eval(ctx, `location.hash = "#/pod/default/db-1"`, nil)
	admin.wait(ctx, "the pod page", `document.body.dataset.rendered === "pod" && document.getElementById("pod-reason").textContent === "CrashLoopBackOff"`)
	admin.eval(ctx, `document.querySelector("main.view").innerText`, &text)
	for _, want := range []string{"Waiting: CrashLoopBackOff", "Back-off restarting failed container c", "Conditions", "Logs"} {
		if !strings.Contains(text, want) {
			t.Errorf("pod page lacks %q:\n%s", want, text)
		}
	}
	// Its log streams in as the node sends it.
	admin.wait(ctx, "the log's first line", `document.getElementById("logs").textContent.includes("started default/db-1/c")`)
	select {
	case agent.lines <- "a line sent later":
	case <-ctx.Done():
		t.Fatal("the log stream is not open")
	}
	admin.wait(ctx, "a later log line, live", `document.getElementById("logs").textContent.includes("a line sent later") && document.getElementById("log-state").textContent === "following"`)
	admin.shot(ctx, "pod")
	// An autoscaler's chart of desired and current replicas against CPU,
	// from the statuses the dashboard saw.
	_, err = e.api.Client.Autoscalers().Create(ctx, &skiffv1.Autoscaler{Metadata: meta("default", "shop", nil), Spec: &skiffv1.AutoscalerSpec{Target: "shop", MaxReplicas: 6, TargetCpuUtilizationPercent: ptr(int32(50))}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*skiffv1.AutoscalerStatus{{CurrentReplicas: 2, DesiredReplicas: 4, CurrentCpuUtilizationPercent: ptr(int32(120))}, {CurrentReplicas: 4, DesiredReplicas: 4, CurrentCpuUtilizationPercent: ptr(int32(60))}} {
		if _, err := e.api.Client.Autoscalers().ModifyStatus(ctx, "default", "shop", func(a *skiffv1.Autoscaler) error { a.Status = st; return nil }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // apart on the chart
	}
	admin.eval(ctx, `location.hash = "#/autoscaler/default/shop"`, nil)
	admin.wait(ctx, "the autoscaler's chart", `document.body.dataset.rendered === "autoscaler" && document.querySelectorAll(".chart svg path[d^='M']").length === 2 && document.querySelector(".chart svg polyline").points.length >= 2`)
	admin.shot(ctx, "autoscaler")
	for _, v := range []string{"nodes", "namespaces", "services", "volumes", "autoscalers", "events"} {
		admin.eval(ctx, fmt.Sprintf(`location.hash = "#/%s"`, v), nil)
		admin.wait(ctx, v, fmt.Sprintf(`document.body.dataset.rendered === %q`, v))
		admin.shot(ctx, v)
	}

	// A read-only session: the buttons are disabled, and a write it
	// forges anyway with its own CSRF token is refused.
	viewer := e.open(ctx, t, b, dir, e.token(t, pki.UsageDashboardView, time.Minute))
	viewer.eval(ctx, `location.hash = "#/workloads"`, nil)
	viewer.wait(ctx, "workloads, read-only", `document.body.dataset.rendered === "workloads" && document.querySelector('button[data-act="scale"][data-name="shop"]').disabled`)
	viewer.eval(ctx, `fetch("/api/session").then(r => r.json()).then(s => fetch("/api/actions/scale", {method: "POST",
		headers: {"Content-Type": "application/json", "X-CSRF-Token": s.csrfToken},
		body: JSON.stringify({kind: "deployments", namespace: "default", name: "shop", replicas: 1})})).then(r => r.status)`, &status)
	if status != 403 {
		t.Fatalf("read-only scale from the page: %d, want 403", status)
	}
	if d, _ := e.api.Client.Deployments().Get(ctx, "default", "shop"); d.GetSpec().GetReplicas() != 4 {
		t.Fatalf("a read-only session changed replicas to %d", d.GetSpec().GetReplicas())
	}
	viewer.shot(ctx, "workloads-read-only")
	var violations []string
	admin.eval(ctx, `window.__csp`, &violations)
	if len(violations) != 0 {
		t.Errorf("the page broke its Content-Security-Policy: %v", violations)
	}
	t.Logf("screenshots in %s", dir)
}
