package report

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ServerConfig configures the live report server.
type ServerConfig struct {
	Addr       string // host:port; an empty host means 127.0.0.1
	Token      string // bearer token every request must carry; required beyond loopback; never logged
	Logger     hclog.Logger
	IsLoopback func(host string) bool
}

// ErrTokenRequired is returned for a non-loopback address without a token.
var ErrTokenRequired = errors.New("serving beyond loopback needs a bearer token")

// Server serves the report page, built fresh for every request.
type Server struct {
	cfg  ServerConfig
	load func() (Page, error)
	srv  *http.Server
	ln   net.Listener
}

// NewServer checks the address and binds it.
func NewServer(cfg ServerConfig, load func() (Page, error)) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", cfg.Addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if !cfg.IsLoopback(host) && cfg.Token == "" {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, ErrTokenRequired)
	}
	s := &Server{cfg: cfg, load: load}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.srv = &http.Server{Handler: s.auth(mux), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	if s.ln, err = net.Listen("tcp", net.JoinHostPort(host, port)); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Handler is the server's HTTP handler (with the token check).
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Serve serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.cfg.Logger.Info("serving report", "addr", s.Addr(), "token", s.cfg.Token != "")
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
		return ctx.Err()
	case err := <-errc:
		return fmt.Errorf("serve report: %w", err)
	}
}

func (s *Server) auth(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="correlator"`)
			http.Error(w, "bearer token required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	p, err := s.load()
	if err != nil {
		s.cfg.Logger.Warn("report page", "error", err)
		http.Error(w, "state store unavailable (is `correlator run` holding it?): try again", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, p); err != nil {
		s.cfg.Logger.Error("report page", "error", err)
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// Within keeps the alerts whose compile started at most d before now (all
// of them when d is 0).
func Within(vs []Alert, now time.Time, d time.Duration) []Alert {
	if d <= 0 {
		return vs
	}
	from := now.Add(-d)
	out := vs[:0:0]
	for _, v := range vs {
		if !v.Time.Before(from) {
			out = append(out, v)
		}
	}
	return out
}
