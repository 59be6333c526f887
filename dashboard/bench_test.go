package dashboard

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/cdp"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The figures bench/dashboard/README.md reports. Run:
//
//	go test -run '^$' -bench . -benchtime 5x ./dashboard

// seedPods makes n pods bound to node n1 (seed makes the node).
func seedPods(b testing.TB, e *env, n int) {
	ctx := context.Background()
	for i := range n {
		name := fmt.Sprintf("load-%03d", i)
		p, err := e.api.Client.Pods().Create(ctx, &skiffv1.Pod{Metadata: meta("default", name, map[string]string{"app": "load"}), Spec: &skiffv1.PodSpec{
			Containers: []*skiffv1.Container{{Name: "c", Image: "demo:latest", Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "10m", "memory": "16Mi"}}}},
		}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.api.Client.Bind(ctx, "default", name, "n1", p.GetMetadata().GetUid(), ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstRender100Pods: a new browser tab logs in and renders the
// overview, then the pod list, of a 100-pod cluster. Reported: the page's
// own time from navigation to first render, and the pod list's render.
func BenchmarkFirstRender100Pods(b *testing.B) {
	bin := chromium(b)
	e := startEnv(b)
	seed(b, e)
	seedPods(b, e, 100)
	br, err := cdp.Launch(bin)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var first, pods float64
	b.ResetTimer()
	for range b.N {
		tab := e.open(ctx, b, br, b.TempDir(), e.token(b, pki.UsageDashboardView, time.Minute))
		var ms float64
		tab.eval(ctx, `window.__firstRender`, &ms)
		first += ms
		tab.eval(ctx, `new Promise(res => { const t0 = performance.now(); location.hash = "#/pods";
			const check = () => document.body.dataset.rendered === "pods" && document.querySelectorAll("main.view tbody tr").length >= 102 ? res(performance.now() - t0) : setTimeout(check, 5); check(); })`, &ms)
		pods += ms
	}
	b.ReportMetric(first/float64(b.N), "ms-first-render")
	b.ReportMetric(pods/float64(b.N), "ms-pod-list")
}

// BenchmarkPageWeight reports what a first visit downloads: the page, its
// script and style, raw and gzipped (the server does not compress).
func BenchmarkPageWeight(b *testing.B) {
	var raw, gz int
	for range b.N {
		raw, gz = 0, 0
		for _, name := range []string{"index.html", "app.js", "style.css"} {
			data, err := fs.ReadFile(assets, "assets/"+name)
			if err != nil {
				b.Fatal(err)
			}
			raw += len(data)
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			w.Write(data)
			w.Close()
			gz += buf.Len()
		}
	}
	b.ReportMetric(float64(raw), "bytes")
	b.ReportMetric(float64(gz), "gzip-bytes")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdleCPU: the process (API server, etcd and dashboard) idle for
// 10 s, without and then with 10 open watch streams (ten tabs).
func BenchmarkIdleCPU(b *testing.B) {
	e := startEnv(b)
	seed(b, e)
	seedPods(b, e, 100)
	measure := func() float64 {
		time.Sleep(2 * time.Second)
		c0, t0 := cpuTime(), time.Now()
		time.Sleep(10 * time.Second)
		return float64(cpuTime()-c0) / float64(time.Since(t0)) * 100
	}
	for range b.N {
		base := measure()
		for range 10 {
			br := e.browser(b)
			br.login(e.token(b, pki.UsageDashboardView, time.Minute))
			s := br.stream("/api/watch")
			if ev, _, err := s.next(); err != nil || ev != "ready" {
				b.Fatalf("stream: %q %v", ev, err)
			}
		}
		open := measure()
		b.ReportMetric(base, "%cpu-idle")
		b.ReportMetric(open, "%cpu-10-streams")
	}
}

// BenchmarkSessionMemory: heap and stacks per signed-in tab holding a
// watch stream over its own TLS connection, client side included (an
// upper bound for the server's share); reported as tabs per 50 MB.
func BenchmarkSessionMemory(b *testing.B) {
	e := startEnv(b)
	seed(b, e)
	seedPods(b, e, 100)
	// The cache is filled before the baseline.
	warm := e.browser(b)
	warm.login(e.token(b, pki.UsageDashboardView, time.Hour))
	var o overviewJSON
	warm.getJSON("/api/overview", &o)
	inUse := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	const tabs = 300
	for range b.N {
		before := inUse()
		for range tabs {
			br := e.browser(b)
			br.login(e.token(b, pki.UsageDashboardView, time.Hour))
			s := br.stream("/api/watch")
			if ev, _, err := s.next(); err != nil || ev != "ready" {
				b.Fatalf("stream: %q %v", ev, err)
			}
			br.c.Transport.(*http.Transport).CloseIdleConnections()
		}
		per := float64(inUse()-before) / tabs
		b.ReportMetric(per/1024, "KiB/tab")
		b.ReportMetric(50<<20/per, "tabs-per-50MB")
		b.ReportMetric(float64(e.dash.sessions.count()), "sessions")
	}
}
