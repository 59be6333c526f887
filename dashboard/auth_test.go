package dashboard

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Without a session nothing of the cluster is served: pages redirect to
// the login page, the API answers 401, writes too.
func TestNothingServedWithoutSession(t *testing.T) {
	e := startEnv(t)
	b := e.browser(t)
	for _, path := range []string{"/", "/app.js"} {
		resp, _ := b.do("GET", path, "", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s: %s to %q, want 303 to /login", path, resp.Status, resp.Header.Get("Location"))
		}
	}
	for _, path := range []string{"/api/session", "/api/kinds", "/api/overview", "/api/list/pods", "/api/pods/default/web",
		"/api/watch", "/api/logs/default/web", "/api/autoscalers/default/a/history"} {
		resp, body := b.do("GET", path, "", nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "skiff dashboard") {
			t.Errorf("GET %s: %s %s, want 401 naming skiff dashboard", path, resp.Status, body)
		}
	}
	for _, a := range []string{"scale", "delete-pod", "restart", "cordon"} {
		resp, _ := b.do("POST", "/api/actions/"+a, `{"name":"x"}`, map[string]string{"Origin": e.url})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s: %s, want 401", a, resp.Status)
		}
	}
	// The login page and its script are open, and hold no cluster data.
	for _, path := range []string{"/login", "/login.js", "/style.css"} {
		resp, body := b.do("GET", path, "", nil)
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "csrf") {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	// A made-up cookie is no session.
	b.c.Jar.SetCookies(mustURL(t, e.url), []*http.Cookie{{Name: sessionCookie, Value: "forged"}})
	if resp, _ := b.do("GET", "/api/overview", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged cookie: %s, want 401", resp.Status)
	}
}

// A login token logs in once; the cookie is HttpOnly, Secure and
// SameSite=Strict. Expired, spent, join and unknown tokens are refused.
func TestLoginTokens(t *testing.T) {
	e := startEnv(t)
	tok := e.token(t, pki.UsageDashboard, 10*time.Minute)
	b := e.browser(t)
	resp, body := b.do("POST", "/login", `{"token":"`+tok+`"}`, map[string]string{"Origin": e.url})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s %s", resp.Status, body)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != sessionCookie || !cookies[0].HttpOnly || !cookies[0].Secure || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v", cookies)
	}
	var s sessionJSON
	b.getJSON("/api/session", &s)
	if s.Role != RoleAdmin || len(s.CSRF) < 32 {
		t.Fatalf("session %+v", s)
	}
	// The token is spent.
	again := e.browser(t)
	if resp, body := again.do("POST", "/login", `{"token":"`+tok+`"}`, map[string]string{"Origin": e.url}); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "used or revoked") {
		t.Errorf("second login with the same token: %s %s", resp.Status, body)
	}

	expired := e.token(t, pki.UsageDashboard, time.Minute)
	e.clock.advance(2 * time.Minute)
	for name, tc := range map[string]struct{ token, want string }{
		"expired": {expired, "expired"},
		"join":    {e.token(t, pki.UsageJoin, time.Hour), "not a dashboard token"},
		"push":    {e.token(t, pki.UsageRegistryPush, time.Hour), "not a dashboard token"},
		"unknown": {"abcdef.0123456789abcdef", "not known"},
	} {
		resp, body := e.browser(t).do("POST", "/login", `{"token":"`+tc.token+`"}`, map[string]string{"Origin": e.url})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, tc.want) || len(resp.Cookies()) != 0 {
			t.Errorf("%s token: %s %s, want 401 saying %q and no cookie", name, resp.Status, body, tc.want)
		}
	}
	// Logging in from another site is refused (login CSRF).
	cross := e.token(t, pki.UsageDashboard, time.Hour)
	if resp, _ := e.browser(t).do("POST", "/login", `{"token":"`+cross+`"}`, map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin login: %s, want 403", resp.Status)
	}
}

// A session ends at its TTL and at logout.
func TestSessionExpiresAndLogsOut(t *testing.T) {
	e := startEnv(t)
	b := e.browser(t)
	b.login(e.token(t, pki.UsageDashboardView, time.Minute))
	var s sessionJSON
	b.getJSON("/api/session", &s)
	e.clock.advance(8*time.Hour + time.Second)
	if resp, _ := b.do("GET", "/api/session", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the session's TTL: %s, want 401", resp.Status)
	}
	b2 := e.browser(t)
	b2.login(e.token(t, pki.UsageDashboardView, time.Minute))
	if resp, _ := b2.do("POST", "/logout", "", map[string]string{"Origin": e.url}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %s, want 403", resp.Status)
	}
	if resp, _ := b2.do("POST", "/logout", "", map[string]string{"Origin": e.url, csrfHeader: b2.csrf}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %s", resp.Status)
	}
	if resp, _ := b2.do("GET", "/api/session", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %s, want 401", resp.Status)
	}
}

func deployment(name string, replicas int32) *skiffv1.Deployment {
	labels := map[string]string{"app": name}
	return &skiffv1.Deployment{
		Metadata: meta("default", name, nil),
		Spec: &skiffv1.DeploymentSpec{
			Replicas: ptr(replicas), Selector: &skiffv1.LabelSelector{MatchLabels: labels},
			Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: labels},
				Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "demo:latest"}}}},
		},
	}
}

// Writes need the session's CSRF token and a same-origin request; a
// read-only session cannot write at all.
func TestWritesNeedCSRFAndAdmin(t *testing.T) {
	e := startEnv(t)
	ctx := testCtx(t)
	if _, err := e.api.Client.Deployments().Create(ctx, deployment("web", 1)); err != nil {
		t.Fatal(err)
	}
	replicas := func() int32 {
		d, err := e.api.Client.Deployments().Get(ctx, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		return d.GetSpec().GetReplicas()
	}
	admin := e.browser(t)
	admin.login(e.token(t, pki.UsageDashboard, time.Minute))
	body := `{"kind":"deployments","namespace":"default","name":"web","replicas":3}`
	// Change the token's first character to one it is not: a fixed
	// replacement would equal the real token whenever it starts with it.
	wrong := "x" + admin.csrf[1:]
	if admin.csrf[0] == 'x' {
		wrong = "y" + admin.csrf[1:]
	}
	for name, h := range map[string]map[string]string{
		"no CSRF token":    {"Origin": e.url},
		"wrong CSRF token": {"Origin": e.url, csrfHeader: wrong},
		"other origin":     {"Origin": "https://evil.example", csrfHeader: admin.csrf},
		"cross-site fetch": {"Sec-Fetch-Site": "cross-site", csrfHeader: admin.csrf},
	} {
		if resp, out := admin.do("POST", "/api/actions/scale", body, h); resp.StatusCode != http.StatusForbidden || !strings.Contains(out, "CSRF") {
			t.Errorf("%s: %s %s, want 403", name, resp.Status, out)
		}
	}
	if got := replicas(); got != 1 {
		t.Fatalf("refused writes changed replicas to %d", got)
	}

	viewer := e.browser(t)
	viewer.login(e.token(t, pki.UsageDashboardView, time.Minute))
	for _, a := range []struct{ name, body string }{
		{"scale", body},
		{"restart", `{"kind":"deployments","namespace":"default","name":"web"}`},
		{"delete-pod", `{"namespace":"default","name":"web"}`},
		{"cordon", `{"name":"n1"}`},
	} {
		if resp, out := viewer.action(a.name, a.body); resp.StatusCode != http.StatusForbidden || !strings.Contains(out, "read-only") {
			t.Errorf("read-only %s: %s %s, want 403", a.name, resp.Status, out)
		}
	}
	// The Viewer's own API client is refused by the API server too.
	d, _ := e.api.Client.Deployments().Get(ctx, "default", "web")
	d.Spec.Replicas = ptr(int32(5))
	if _, err := e.dash.cfg.Viewer.Deployments().Update(ctx, d); err == nil || !strings.Contains(err.Error(), "a viewer only reads") {
		t.Fatalf("viewer update through the API: %v, want PermissionDenied", err)
	}
	if got := replicas(); got != 1 {
		t.Fatalf("read-only session changed replicas to %d", got)
	}

	if resp, out := admin.action("scale", body); resp.StatusCode != http.StatusOK {
		t.Fatalf("admin scale: %s %s", resp.Status, out)
	}
	if got := replicas(); got != 3 {
		t.Fatalf("replicas after scale = %d, want 3", got)
	}
	if resp, out := admin.action("restart", `{"kind":"deployments","namespace":"default","name":"web"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("admin restart: %s %s", resp.Status, out)
	}
	d, _ = e.api.Client.Deployments().Get(ctx, "default", "web")
	if d.GetSpec().GetTemplate().GetMetadata().GetAnnotations()["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("restart left no restartedAt annotation: %v", d.GetSpec().GetTemplate().GetMetadata())
	}
	// Cordon and uncordon a node; delete a pod gracefully.
	if _, err := e.api.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []bool{true, false} {
		if resp, out := admin.action("cordon", fmt.Sprintf(`{"name":"n1","cordon":%v}`, want)); resp.StatusCode != http.StatusOK {
			t.Fatalf("cordon %v: %s %s", want, resp.Status, out)
		}
		if n, _ := e.api.Client.Nodes().Get(ctx, "", "n1"); n.GetSpec().GetUnschedulable() != want {
			t.Fatalf("unschedulable = %v after cordon %v", n.GetSpec().GetUnschedulable(), want)
		}
	}
	if _, err := e.api.Client.Pods().Create(ctx, &skiffv1.Pod{Metadata: meta("default", "doomed", nil), Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "x"}}}}); err != nil {
		t.Fatal(err)
	}
	if resp, out := admin.action("delete-pod", `{"namespace":"default","name":"doomed"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete pod: %s %s", resp.Status, out)
	}
	if _, err := e.api.Client.Pods().Get(ctx, "default", "doomed"); !client.IsNotFound(err) {
		t.Fatalf("the unbound pod is still there after delete: %v", err)
	}
	if resp, out := admin.action("delete-pod", `{"namespace":"default","name":"doomed"}`); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("deleting a missing pod: %s %s", resp.Status, out)
	}
	if resp, out := admin.action("scale", `{"kind":"nodes","name":"n1","replicas":2}`); resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, "cannot be scaled") {
		t.Fatalf("scaling a node: %s %s", resp.Status, out)
	}
	if resp, out := admin.action("scale", `{"kind":"deployments","namespace":"default","name":"web","replicas":2,"extra":1}`); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an unknown field: %s %s", resp.Status, out)
	}
	if resp, out := admin.action("scale", `{"kind":"services","namespace":"default","name":"web","replicas":2}`); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("scaling a missing service: %s %s", resp.Status, out)
	}
	if resp, out := admin.action("scale", `{"kind":"deployments","namespace":"default","name":"web","replicas":-1}`); resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, "replicas") {
		t.Fatalf("negative replicas: %s %s", resp.Status, out)
	}
}
