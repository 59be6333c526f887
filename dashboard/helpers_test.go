package dashboard

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// clock is a settable clock shared by the token store and the sessions.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a dashboard on loopback over a real, secured API server.
type env struct {
	api    *apitest.SecureServer
	tokens *pki.TokenStore
	clock  *clock
	dash   *Server
	url    string // https://127.0.0.1:port
	caPool *x509.CertPool
}

func startEnv(t testing.TB) *env {
	t.Helper()
	api := apitest.StartSecure(t)
	clk := &clock{t: time.Now()}
	tokens := pki.NewTokenStore(t.TempDir(), api.CA.Cert)
	tokens.Now = clk.now
	kp, err := api.CA.IssueServer(pki.ServerSpec{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{
		Listen: "127.0.0.1:0", TLS: pki.ServerTLS(api.CA.Cert, pki.NewCertHolder(kp), pki.ClientCertOptional),
		Tokens: tokens, Now: clk.now,
		Admin:  api.ClientAs(t, pki.Identity{Name: pki.Admin, Groups: []string{pki.DashboardGroup}}),
		Viewer: api.ClientAs(t, pki.Identity{Name: pki.Viewer, Groups: []string{pki.DashboardGroup}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dashboard: %v", err)
		}
	})
	select {
	case <-d.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(api.CA.Cert)
	return &env{api: api, tokens: tokens, clock: clk, dash: d, url: "https://" + d.Addr(), caPool: pool}
}

// token makes a login token of usage valid for ttl.
func (e *env) token(t testing.TB, usage string, ttl time.Duration) string {
	t.Helper()
	tok, err := e.tokens.CreateFor(usage, ttl, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// browser is an HTTP client with a cookie jar, as a browser tab.
type browser struct {
	t    testing.TB
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.caPool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

func (b *browser) do(method, path, body string, header map[string]string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.e.url+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// login logs in with token and keeps the session's CSRF token.
func (b *browser) login(token string) {
	b.t.Helper()
	resp, body := b.do("POST", "/login", `{"token":"`+token+`"}`, map[string]string{"Origin": b.e.url})
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("login: %s %s", resp.Status, body)
	}
	var s sessionJSON
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		b.t.Fatal(err)
	}
	b.csrf = s.CSRF
}

// action posts a dashboard action the way the page does.
func (b *browser) action(name, body string) (*http.Response, string) {
	return b.do("POST", "/api/actions/"+name, body, map[string]string{"Origin": b.e.url, csrfHeader: b.csrf})
}

func (b *browser) getJSON(path string, v any) {
	b.t.Helper()
	resp, body := b.do("GET", path, "", nil)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		b.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// sseReader reads server-sent events from a stream.
type sseReader struct {
	resp *http.Response
	r    *bufio.Reader
}

func (b *browser) stream(path string) *sseReader {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.e.url+path, nil)
	c := *b.c
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		b.t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	return &sseReader{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's name and data.
func (s *sseReader) next() (string, string, error) {
	var event, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && event != "":
			return event, data, nil
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func meta(ns, name string, labels map[string]string) *skiffv1.ObjectMeta {
	return &skiffv1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}
}

func ptr[T any](v T) *T { return &v }

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
