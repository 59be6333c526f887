package nodeagent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The probes' and hooks' network handlers against servers on loopback,
// dialled through the test's own network namespace (entering it, even
// one's own, takes root).

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: setns into a network namespace")
	}
}

const ownNetNS = "/proc/self/ns/net"

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func portOf(t *testing.T, addr string) int32 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// HTTPS is not verified (the server's certificate is self-signed), the
// probe's headers are sent, Host among them, and defaults fill the rest.
func TestHTTPGetSchemeAndHeaders(t *testing.T) {
	needRoot(t)
	got := make(chan *http.Request, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	action := &skiffv1.HTTPGetAction{Path: "/healthz", Port: portOf(t, u.Host), Scheme: "HTTPS", HttpHeaders: []*skiffv1.HTTPHeader{
		{Name: "Custom-Header", Value: "Awesome"}, {Name: "Host", Value: "example.test"}, {Name: "accept", Value: "application/json"}}}
	if err := httpGet(testCtx(t), ownNetNS, "127.0.0.1", action, 5*time.Second); err != nil {
		t.Fatalf("HTTPS GET: %v", err)
	}
	r := <-got
	if r.URL.Path != "/healthz" || r.Header.Get("Custom-Header") != "Awesome" || r.Host != "example.test" ||
		r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != "skiff-probe" {
		t.Fatalf("request %s %s host %s headers %v: want the probe's path, headers and Host", r.Method, r.URL, r.Host, r.Header)
	}
	action.Path = "/fail"
	if err := httpGet(testCtx(t), ownNetNS, "127.0.0.1", action, 5*time.Second); err == nil {
		t.Fatal("a 503 passed")
	}
	<-got
	action.Path, action.Scheme = "/healthz", ""
	if err := httpGet(testCtx(t), ownNetNS, "127.0.0.1", action, 5*time.Second); err == nil {
		t.Fatal("plain HTTP to a TLS server passed")
	}
}

// A gRPC probe passes only when the service asked about is SERVING.
func TestGRPCHealthCheck(t *testing.T) {
	needRoot(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	hs.SetServingStatus("etcd", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	port := portOf(t, lis.Addr().String())
	svc := func(s string) *string { return &s }
	for _, tc := range []struct {
		service *string
		ok      bool
	}{{nil, true}, {svc("etcd"), true}, {svc("down"), false}, {svc("unknown"), false}} {
		err := grpcHealthCheck(testCtx(t), ownNetNS, "127.0.0.1", &skiffv1.GRPCAction{Port: port, Service: tc.service})
		if (err == nil) != tc.ok {
			t.Errorf("service %v: err %v, want ok=%v", tc.service, err, tc.ok)
		}
	}
	if err := grpcHealthCheck(testCtx(t), ownNetNS, "127.0.0.1", &skiffv1.GRPCAction{Port: port + 1}); err == nil {
		t.Error("a closed port passed")
	}
}
