// Package server accepts result-log lines over HTTP:
//
//	POST /osquery/log    osquery's TLS logger plugin: {"node_key":..,"log_type":"result","data":[<line>,...]}
//	POST /fleet/results  Fleet's webhook result log: [{"timestamp":..,"details":<line>},...]
//	POST /results        newline-delimited result-log lines (any forwarder, curl)
//	GET  /healthz
//
// It listens on loopback by default. Listening on any other address needs
// a bearer token or TLS (or both). With a token, every POST must carry
// "Authorization: Bearer <token>"; osquery's TLS logger cannot send headers,
// so on /osquery/log a node_key equal to the token is accepted too.
package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Ingester takes the lines of one request and commits them before
// returning.
type Ingester interface {
	Lines(source string, lines [][]byte) error
}

// Config configures the server.
type Config struct {
	Addr     string // host:port; empty host means loopback
	Token    string // bearer token (never logged)
	CertFile string
	KeyFile  string
	MaxBody  int64 // bytes per request (default 64 MiB)
	// Metrics, when set, is served at GET /metrics (Prometheus text).
	Metrics http.Handler
	Logger  hclog.Logger
}

// Server is the HTTP endpoint.
type Server struct {
	cfg  Config
	in   Ingester
	srv  *http.Server
	ln   net.Listener
	reqs atomic.Int64
}

// ErrInsecure is returned for a non-loopback address without token or TLS.
var ErrInsecure = errors.New("listening beyond loopback needs a bearer token or TLS")

// New validates the config and binds the listener.
func New(cfg Config, in Ingester) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", cfg.Addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	tlsOn := cfg.CertFile != "" || cfg.KeyFile != ""
	if !isLoopback(host) && cfg.Token == "" && !tlsOn {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, ErrInsecure)
	}
	s := &Server{cfg: cfg, in: in}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /osquery/log", s.osquery)
	mux.HandleFunc("POST /fleet/results", s.fleet)
	mux.HandleFunc("POST /results", s.raw)
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, WriteTimeout: 2 * time.Minute}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("load TLS key pair: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	return s, nil
}

// IsLoopback reports whether a listen host is loopback ("localhost",
// 127.0.0.0/8, ::1).
func IsLoopback(host string) bool { return isLoopback(host) }

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.cfg.Logger.Info("listening", "addr", s.Addr())
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

func (s *Server) authorized(r *http.Request, nodeKey string) bool {
	if s.cfg.Token == "" {
		return true
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") && equal(strings.TrimPrefix(h, "Bearer "), s.cfg.Token) {
		return true
	}
	return nodeKey != "" && equal(nodeKey, s.cfg.Token)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return data, true
}

func (s *Server) ingest(w http.ResponseWriter, source string, lines [][]byte) bool {
	if err := s.in.Lines(source, lines); err != nil {
		s.cfg.Logger.Error("ingest failed", "source", source, "error", err)
		http.Error(w, "could not store results", http.StatusServiceUnavailable)
		return false
	}
	return true
}

func (s *Server) source(kind string) string {
	return fmt.Sprintf("http:%s#%d", kind, s.reqs.Add(1))
}

// osquery handles the TLS logger plugin's posts.
func (s *Server) osquery(w http.ResponseWriter, r *http.Request) {
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	req, err := ParseOsqueryLog(data)
	if err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	if !s.authorized(r, req.NodeKey) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"node_invalid":true}`)
		return
	}
	if len(req.Lines) > 0 && !s.ingest(w, s.source("osquery"), req.Lines) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"node_invalid":false}`)
}

// OsqueryLog is a parsed TLS logger request.
type OsqueryLog struct {
	NodeKey string
	LogType string
	Lines   [][]byte // result lines; empty for status logs
}

// ParseOsqueryLog parses the body osquery's TLS logger plugin posts.
func ParseOsqueryLog(data []byte) (OsqueryLog, error) {
	var req struct {
		NodeKey string            `json:"node_key"`
		LogType string            `json:"log_type"`
		Data    []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return OsqueryLog{}, fmt.Errorf("osquery log body: %w", err)
	}
	out := OsqueryLog{NodeKey: req.NodeKey, LogType: req.LogType}
	if req.LogType == "result" || req.LogType == "snapshot" {
		for _, d := range req.Data {
			out.Lines = append(out.Lines, unquote(d))
		}
	}
	return out, nil
}

// unquote accepts a line given as a JSON object or as a JSON string that
// holds the object.
func unquote(d json.RawMessage) []byte {
	d = bytes.TrimSpace(d)
	if len(d) > 0 && d[0] == '"' {
		var s string
		if err := json.Unmarshal(d, &s); err == nil {
			return []byte(s)
		}
	}
	return d
}

// fleet handles Fleet's webhook result-log posts.
func (s *Server) fleet(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r, "") {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	lines, err := ParseFleetWebhook(data)
	if err != nil {
		http.Error(w, "bad request body", http.StatusBadRequest)
		return
	}
	if s.ingest(w, s.source("fleet"), lines) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// ParseFleetWebhook parses Fleet's webhook result-log body: a JSON array
// of {"timestamp", "details"} where details is one osquery line (or, as
// some Fleet versions document, an array of lines).
func ParseFleetWebhook(data []byte) ([][]byte, error) {
	var items []struct {
		Timestamp string          `json:"timestamp"`
		Details   json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("fleet webhook body: %w", err)
	}
	var lines [][]byte
	for _, it := range items {
		d := bytes.TrimSpace(it.Details)
		if len(d) > 0 && d[0] == '[' {
			var many []json.RawMessage
			if err := json.Unmarshal(d, &many); err == nil {
				for _, m := range many {
					lines = append(lines, unquote(m))
				}
				continue
			}
		}
		if len(d) > 0 {
			lines = append(lines, unquote(d))
		}
	}
	return lines, nil
}

// raw handles newline-delimited result-log lines.
func (s *Server) raw(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r, "") {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	data, ok := s.body(w, r)
	if !ok {
		return
	}
	lines := bytes.Split(bytes.TrimRight(data, "\r\n"), []byte("\n"))
	if s.ingest(w, s.source("results"), lines) {
		w.WriteHeader(http.StatusNoContent)
	}
}
