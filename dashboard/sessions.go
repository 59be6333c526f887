package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/pki"
)

// Cookie and header names.
const (
	sessionCookie = "skiff_dashboard"
	csrfHeader    = "X-CSRF-Token"
	// maxSessions bounds the sessions kept: the oldest goes first.
	maxSessions = 10000
)

// Roles a session acts as.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

type session struct {
	role    string
	tokenID string // the login token's id, for the log
	csrf    string
	created time.Time
	expires time.Time
}

// sessions keeps the signed-in browsers, keyed by the SHA-256 of the
// cookie's value (a copy of the map names no usable cookie).
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashKey(v string) string {
	h := sha256.Sum256([]byte(v))
	return string(h[:])
}

// create starts a session and returns the cookie value.
func (ss *sessions) create(role, tokenID string) (string, *session) {
	now := ss.now()
	id := randomToken()
	s := &session{role: role, tokenID: tokenID, csrf: randomToken(), created: now, expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.pruneLocked(now)
	if len(ss.m) >= maxSessions {
		var oldest string
		for k, v := range ss.m {
			if oldest == "" || v.created.Before(ss.m[oldest].created) {
				oldest = k
			}
		}
		delete(ss.m, oldest)
	}
	ss.m[hashKey(id)] = s
	return id, s
}

func (ss *sessions) pruneLocked(now time.Time) {
	for k, v := range ss.m {
		if !now.Before(v.expires) {
			delete(ss.m, k)
		}
	}
}

// get returns the live session of a cookie value.
func (ss *sessions) get(id string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[hashKey(id)]
	if !ok {
		return nil, false
	}
	if !ss.now().Before(s.expires) {
		delete(ss.m, hashKey(id))
		return nil, false
	}
	return s, true
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, hashKey(id))
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// roleOf is the role a login token's usage grants.
func roleOf(usage string) (string, bool) {
	switch usage {
	case pki.UsageDashboard:
		return RoleAdmin, true
	case pki.UsageDashboardView:
		return RoleViewer, true
	}
	return "", false
}

// login trades a login token (form field or JSON "token") for a session
// cookie. The token is spent: it is revoked on success, so a URL left in
// a browser's history opens nothing.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		httpError(w, http.StatusForbidden, "cross-origin login refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	var body struct {
		Token string `json:"token"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			httpError(w, http.StatusBadRequest, "body: want {\"token\": \"...\"}")
			return
		}
	} else {
		body.Token = r.PostFormValue("token")
	}
	tok := strings.TrimSpace(body.Token)
	if tok == "" {
		httpError(w, http.StatusBadRequest, "token: empty; make one with skiff dashboard")
		return
	}
	info, err := s.cfg.Tokens.Validate(tok)
	role, ok := roleOf(info.UsageOrDefault())
	if err == nil && !ok {
		err = errors.New("it is a " + info.UsageOrDefault() + " token, not a dashboard token")
	}
	if err != nil {
		s.log.Info("dashboard login refused", "peer", r.RemoteAddr, "err", err)
		httpError(w, http.StatusUnauthorized, "login refused: "+loginReason(err)+"; make a new token with skiff dashboard")
		return
	}
	if err := s.cfg.Tokens.Revoke(info.ID); err != nil {
		httpError(w, http.StatusInternalServerError, "login: spend the token: "+err.Error())
		return
	}
	id, sess := s.sessions.create(role, info.ID)
	s.log.Info("dashboard login", "role", role, "token", info.ID, "peer", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", Expires: sess.expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, sessionInfo(sess))
}

func loginReason(err error) string {
	switch {
	case errors.Is(err, pki.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, pki.ErrTokenRevoked):
		return "the token was used or revoked"
	case errors.Is(err, pki.ErrTokenInvalid), errors.Is(err, pki.ErrMalformedToken):
		return "the token is not known to this server"
	}
	return err.Error()
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

type sessionJSON struct {
	Role          string    `json:"role"`
	ClusterDomain string    `json:"clusterDomain,omitempty"`
	CSRF          string    `json:"csrfToken"`
	Expires       time.Time `json:"expires"`
}

func sessionInfo(s *session) sessionJSON {
	return sessionJSON{Role: s.role, CSRF: s.csrf, Expires: s.expires}
}

func (s *Server) session(w http.ResponseWriter, _ *http.Request, sess *session) {
	out := sessionInfo(sess)
	out.ClusterDomain = s.cfg.ClusterDomain
	writeJSON(w, out)
}

// current is the request's live session.
func (s *Server) current(r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	return s.sessions.get(c.Value)
}

// page guards an HTML page or script: without a session a browser is
// sent to the login page.
func (s *Server) page(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.current(r); !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

type sessionHandler func(http.ResponseWriter, *http.Request, *session)

// read guards an API read: 401 without a session.
func (s *Server) read(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.current(r)
		if !ok {
			httpError(w, http.StatusUnauthorized, "not signed in: open the URL skiff dashboard prints")
			return
		}
		h(w, r, sess)
	})
}

// write guards a state-changing request: a session, a same-origin
// request carrying the session's CSRF token and, when adminOnly, an admin
// session (the API server checks again).
func (s *Server) write(h sessionHandler, adminOnly bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.current(r)
		if !ok {
			httpError(w, http.StatusUnauthorized, "not signed in: open the URL skiff dashboard prints")
			return
		}
		got := r.Header.Get(csrfHeader)
		if !sameOrigin(r) || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
			httpError(w, http.StatusForbidden, "CSRF check failed: reload the page")
			return
		}
		if adminOnly && sess.role != RoleAdmin {
			httpError(w, http.StatusForbidden, "this session is read-only: log in with a token from skiff dashboard (without --read-only)")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		h(w, r, sess)
	})
}

// sameOrigin: a request the browser marks as coming from another origin
// is refused. Browsers send Origin on every POST; its absence means a
// non-browser client, which the CSRF token still binds.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme == "https" && u.Host == r.Host
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
