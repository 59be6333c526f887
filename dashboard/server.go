package dashboard

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
)

//go:embed assets
var assets embed.FS

// LoginTokens checks and spends the one-time login tokens; *pki.TokenStore
// is one.
type LoginTokens interface {
	Validate(token string) (pki.TokenInfo, error)
	Revoke(id string) error
}

// Config is a dashboard's.
type Config struct {
	// Listen is the HTTPS address (loopback by default in `skiff server`).
	Listen string
	// TLS serves it; required: the dashboard never serves plain HTTP.
	TLS *tls.Config
	// Tokens checks login tokens.
	Tokens LoginTokens
	// Admin and Viewer are API clients with those identities: sessions
	// of "dashboard" tokens write through Admin, and the object cache
	// reads through Viewer.
	Admin, Viewer *client.Client
	// ClusterDomain names services in the page (cluster.local if empty).
	ClusterDomain string
	// SessionTTL is how long a session lasts after login; 8 hours if 0.
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is a running dashboard.
type Server struct {
	cfg      Config
	log      *slog.Logger
	sessions *sessions
	cache    *cache
	static   fs.FS
	ready    chan struct{}
	addr     string
}

// New checks cfg and makes a dashboard; Run serves it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.TLS == nil:
		return nil, errors.New("dashboard: TLS is required (the dashboard is off on an --insecure server)")
	case cfg.Tokens == nil:
		return nil, errors.New("dashboard: no login token store")
	case cfg.Admin == nil || cfg.Viewer == nil:
		return nil, errors.New("dashboard: the admin and viewer API clients are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg: cfg, log: cfg.Logger, static: static, ready: make(chan struct{}),
		sessions: newSessions(cfg.SessionTTL, cfg.Now),
		cache:    newCache(cfg.Viewer, cfg.Logger, cfg.Now),
	}, nil
}

// Ready is closed once the dashboard listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address it listens on, once Ready.
func (s *Server) Addr() string { return s.addr }

// Run listens and serves until ctx ends. The object cache starts with the
// first signed-in request, so a dashboard nobody opens costs nothing.
func (s *Server) Run(ctx context.Context) error {
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("dashboard: --dashboard-addr %s: %w", s.cfg.Listen, err)
	}
	s.addr = lis.Addr().String()
	srv := &http.Server{
		Handler:           s.Handler(ctx),
		TLSConfig:         s.cfg.TLS.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Streams (events, logs) end with the dashboard.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("dashboard listening", "addr", "https://"+s.addr+"/", "login", "skiff dashboard")
	close(s.ready)
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(lis, "", "") }()
	select {
	case err := <-done:
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}

// Handler is the dashboard's HTTP handler; the cache it fills runs until
// ctx ends.
func (s *Server) Handler(ctx context.Context) http.Handler {
	s.cache.runCtx = ctx
	mux := http.NewServeMux()
	// Open to everyone: the login page and its script and style, which
	// hold nothing of the cluster.
	mux.HandleFunc("GET /login", s.serveAsset("login.html"))
	mux.HandleFunc("GET /login.js", s.serveAsset("login.js"))
	mux.HandleFunc("GET /style.css", s.serveAsset("style.css"))
	mux.HandleFunc("POST /login", s.login)
	// Everything else needs a session.
	mux.Handle("GET /{$}", s.page(s.serveAsset("index.html")))
	mux.Handle("GET /app.js", s.page(s.serveAsset("app.js")))
	mux.Handle("POST /logout", s.write(s.logout, false))
	mux.Handle("GET /api/session", s.read(s.session))
	mux.Handle("GET /api/kinds", s.read(s.kinds))
	mux.Handle("GET /api/list/{plural}", s.read(s.list))
	mux.Handle("GET /api/overview", s.read(s.overview))
	mux.Handle("GET /api/pods/{namespace}/{name}", s.read(s.podDetail))
	mux.Handle("GET /api/autoscalers/{namespace}/{name}/history", s.read(s.autoscalerHistory))
	mux.Handle("GET /api/watch", s.read(s.watch))
	mux.Handle("GET /api/logs/{namespace}/{name}", s.read(s.logs))
	mux.Handle("POST /api/actions/scale", s.write(s.scale, true))
	mux.Handle("POST /api/actions/delete-pod", s.write(s.deletePod, true))
	mux.Handle("POST /api/actions/restart", s.write(s.restartRollout, true))
	mux.Handle("POST /api/actions/cordon", s.write(s.cordon, true))
	return securityHeaders(mux)
}

// securityHeaders: the page runs only its own scripts, is never framed
// and never cached.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) serveAsset(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, s.static, name)
	}
}
