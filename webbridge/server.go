// Package webbridge is codeterm's HTTP front-end: the REST API, the Socket.IO
// bridge onto the session core, and the embedded web page.
package webbridge

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/files"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/ports"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/web"
	"github.com/codeterm/codeterm/webbridge/socketio"
	"github.com/codeterm/codeterm/workspaces"
)

// Server serves codeterm over HTTP: REST, Socket.IO at /socket.io/ and the
// web page. Set the fields, call Handler once, and Close on shutdown.
type Server struct {
	Auth       *auth.Service
	Store      *store.Store
	Sessions   *sessions.Manager
	Workspaces *workspaces.Manager
	Log        *slog.Logger
	Version    string
	// LoginLimiter limits login-code exchanges per source address.
	LoginLimiter *auth.Limiter
	// PublicURL is where browsers reach the server. Socket.IO requests
	// whose Origin is neither it nor the request's own origin are refused,
	// and so are requests whose Host is none of its host, AllowedHosts,
	// "localhost", the machine's name or an IP address (DNS rebinding).
	PublicURL string
	// AllowedHosts are more host names the server answers to, such as the
	// name in its listen address.
	AllowedHosts []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For, -Proto
	// and -Host headers are believed.
	TrustedProxies []netip.Prefix
	// HomeFor gives a user's shells their HOME; nil keeps the server's (or
	// the OS account's, see Accounts).
	HomeFor func(*store.User) string
	// Accounts maps users to the OS accounts their shells run as and that
	// the git credential socket checks callers against; nil runs everything
	// as the server's user.
	Accounts *isolation.Accounts
	// PreviewDomain is the domain under which each forwarded port gets a
	// host of its own (PORT--WORKSPACE--USER.<domain>); "" is "localhost".
	PreviewDomain string
	// SSHTarget is what follows `ssh` to reach the server as a user
	// ("-p 2222 alice@host"), for the page's `ssh -L` commands; nil: none.
	SSHTarget func(user string) string
	// Socket tunes the Socket.IO bridge; zero values are the defaults.
	Socket SocketConfig
	// GitHub turns on the GitHub integration; nil leaves it off.
	GitHub *GitHub
	// Files serves the file events and /api/workspaces/{id}/files/; nil
	// turns them off.
	Files *files.Service
	// Metrics, if set, is served at GET /metrics (guard it: see
	// metrics.WithToken).
	Metrics http.Handler

	started     time.Time
	io          *socketio.Server
	ctx         context.Context // ends with Close: background work, clones, syncs
	cancel      context.CancelFunc
	wg          sync.WaitGroup // goroutines Close waits for
	hub         hub
	outputs     sharedOutputs
	stats       cpuSampler
	counters    bridgeCounters
	healthState healthCache

	ready atomic.Bool // see SetReady
	ports ports.Finder

	previewAuth  previewAuth
	previewProxy *httputil.ReverseProxy

	closeOnce sync.Once
}

// SocketConfig tunes the Socket.IO bridge.
type SocketConfig struct {
	// PingInterval and PingTimeout drive the Engine.IO heartbeat.
	PingInterval, PingTimeout time.Duration
	// MaxPayload bounds one inbound message; larger ones end the
	// connection, as in Engine.IO (default 1 MB).
	MaxPayload int64
	// QueueBytes bounds each connection's outbound queue (default 1 MiB).
	QueueBytes int
	// PollGrace releases a long-polling client whose next GET does not come
	// within it (default 5s): it vanished without a close packet.
	PollGrace time.Duration
	// Compression negotiates permessage-deflate when the client offers it.
	Compression bool
	// EventsPerSecond is each socket's sustained event rate, with bursts of
	// as many (default 200).
	EventsPerSecond int
	// MaxUnauthenticated bounds the connections that have not
	// authenticated yet (default 256); ConnectTimeout closes one that takes
	// longer (default 10s).
	MaxUnauthenticated int
	ConnectTimeout     time.Duration
	// MaxInputBytes bounds one terminal-input (default 64 KiB; keep it equal
	// to sessions.max_input_bytes).
	MaxInputBytes int
	// RevocationInterval is how often connected users are checked for
	// revocation or deletion (default 2s).
	RevocationInterval time.Duration
	// HealthInterval is the period of health-status (default 30s).
	HealthInterval time.Duration
	// StatusDebounce delays workspace-status after a burst of file events
	// (default 300ms).
	StatusDebounce time.Duration
	// Scrollback is how many lines of history go in front of a repaint
	// (default 1000).
	Scrollback int
	// RelayIdle is how long a terminal's output relay waits with nothing
	// to send before its goroutine leaves (default 2s; see relayIdle).
	RelayIdle time.Duration
}

func (c *SocketConfig) setDefaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.RevocationInterval, 2*time.Second)
	def(&c.HealthInterval, 30*time.Second)
	def(&c.StatusDebounce, 300*time.Millisecond)
	def(&c.ConnectTimeout, 10*time.Second)
	def(&c.RelayIdle, relayIdle)
	if c.EventsPerSecond <= 0 {
		c.EventsPerSecond = 200
	}
	if c.MaxInputBytes <= 0 {
		c.MaxInputBytes = 64 << 10
	}
	if c.Scrollback <= 0 {
		c.Scrollback = 1000
	}
}

// Handler returns the HTTP handler with every route. Call it once.
func (s *Server) Handler() http.Handler {
	s.started = time.Now()
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hub.seed = maphash.MakeSeed()
	s.Socket.setDefaults()
	s.ports.Sessions = s.Sessions
	s.io = s.newSocketServer()
	s.startBackground()
	s.startGitCredentials()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", s.health)
	mux.HandleFunc("GET /api/ready", s.readiness)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.HandleFunc("POST /api/auth/exchange", s.exchange)
	mux.HandleFunc("POST /api/auth/logout", s.logout)
	mux.HandleFunc("GET /api/workspaces", s.authed(s.listWorkspaces))
	mux.HandleFunc("GET /api/workspaces/{id}/terminals", s.authed(s.listTerminalsREST))
	s.fileRoutes(mux)
	mux.HandleFunc("GET /api/shared", s.authed(s.listSharedREST))
	mux.HandleFunc("GET /api/sessions/{id}/recording", s.authed(s.recordingREST))
	// The web page: index.html for /, /login and /w/..., hashed assets below
	// /assets/. The API and Socket.IO routes above are more specific.
	mux.Handle("/", web.Handler())
	s.oauthRoutes(mux)
	mux.Handle("/socket.io/", s.io)
	s.portRoutes(mux)
	return s.fromProxies(s.previews(securityHeaders(s.checkHost(mux))))
}

// checkHost refuses requests for a host name the server does not go by. A
// page on a name the attacker controls, re-pointed at 127.0.0.1 after it
// loaded (DNS rebinding), is same-origin with its own requests to us, so
// only the Host header tells them apart. IP addresses cannot be rebound
// and "localhost" and the machine's own name resolve locally.
func (s *Server) checkHost(h http.Handler) http.Handler {
	allowed := map[string]bool{"localhost": true}
	if name, err := os.Hostname(); err == nil && name != "" {
		allowed[strings.ToLower(name)] = true
	}
	if u, err := url.Parse(s.PublicURL); err == nil && u.Hostname() != "" {
		allowed[strings.ToLower(u.Hostname())] = true
	}
	for _, name := range s.AllowedHosts {
		if host, _, err := net.SplitHostPort(name); err == nil {
			name = host
		}
		allowed[strings.ToLower(name)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		if net.ParseIP(host) == nil && !allowed[host] {
			s.Log.Info("request for an unknown host refused", "host", truncate(r.Host, 100), "remote", clientIP(r))
			writeError(w, http.StatusMisdirectedRequest, "HOST_NOT_ALLOWED",
				"this server does not answer to that host name; set public_url to the address browsers use")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Close disconnects every Socket.IO client (they reconnect on their own
// once a server is back), stops background work and waits for it. Sessions
// keep running: they belong to the session core. It is safe to call more
// than once and on a Server whose Handler was never called.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.io == nil {
			return
		}
		s.cancel()
		s.io.Close()
		s.wg.Wait()
	})
	return nil
}

// Restarting tells every connected browser that the server is restarting
// in place (the event server-restart) and disconnects it: it reconnects on
// its own to the next program image and resumes its terminals from their
// offsets. Unlike Close, new connections are still served.
func (s *Server) Restarting() {
	if s.io == nil {
		return
	}
	for _, cs := range s.hub.clientsByUser() {
		for _, c := range cs {
			c.emit("server-restart", map[string]any{"reason": "upgrade"})
		}
	}
	// Bounded: a client that does not read learns of it by the dropped
	// connection instead.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	s.io.DisconnectAll(ctx)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if requestScheme(r) == "https" {
			// A year, like most HTTPS sites; not includeSubDomains, which
			// would bind names this server does not own.
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// SetReady says whether a load balancer should send traffic here: false
// (the start) until the server serves, and again from when it begins to
// shut down or hand over to its successor.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// readiness answers 200 while ready, 503 otherwise.
func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() || s.ctx.Err() != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not_ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// health reports liveness without revealing users, sessions or paths.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status, db := "healthy", "operational"
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.Store.SchemaVersion(ctx); err != nil {
		status, db = "degraded", "unavailable"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":    status,
		"version":   s.Version,
		"uptime":    int64(time.Since(s.started).Seconds()),
		"services":  map[string]string{"database": db},
		"timestamp": time.Now().UTC().Format(time.RFC3339),
	})
}

// apiError is the error body of every REST endpoint, with the codes of the
// Socket.IO errors.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginLimitKey is what login attempts are counted under: the address and
// the first characters of the code (or OAuth state). Guessing a 256-bit
// code is hopeless at any rate; what the limit must not allow is one
// client behind a shared address (NAT, a proxy) using up everyone's
// attempts, and a real code's prefix is one of 4096 the guesser would
// all have to exhaust.
func loginLimitKey(r *http.Request, code string) string {
	if len(code) > 2 {
		code = code[:2]
	}
	return clientIP(r) + " " + code
}

// exchange turns a one-time login code into a token.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Code == "" {
		writeError(w, http.StatusBadRequest, "INVALID_PAYLOAD", `want a JSON body {"code": "..."}`)
		return
	}
	if s.LoginLimiter != nil && !s.LoginLimiter.Allow(loginLimitKey(r, body.Code)) {
		writeError(w, http.StatusTooManyRequests, "RATE_LIMITED", "too many login attempts; wait a minute")
		return
	}
	tok, u, err := s.Auth.ExchangeCode(r.Context(), body.Code)
	if errors.Is(err, auth.ErrCodeInvalid) {
		s.Log.Info("login code refused", "remote", clientIP(r), "err", err)
		writeError(w, http.StatusUnauthorized, "INVALID_LOGIN_CODE", "this login link is invalid, already used or expired; ask for a new one")
		return
	}
	if err != nil {
		s.Log.Error("login code exchange", "err", err)
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "login failed")
		return
	}
	s.Log.Info("login", "user", u.Name, "remote", clientIP(r))
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "user": map[string]string{"id": u.ID, "name": u.Name}})
}

// authed requires a valid "Authorization: Bearer <jwt>".
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *store.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, u, ok := s.bearer(w, r); ok {
			h(w, r, u)
		}
	}
}

// bearer verifies the request's "Authorization: Bearer <jwt>", answering
// 401 when it is missing or refused.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (*auth.Claims, *store.User, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeError(w, http.StatusUnauthorized, "AUTH_REQUIRED", "send Authorization: Bearer <token>")
		return nil, nil, false
	}
	claims, u, err := s.Auth.Verify(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		writeError(w, http.StatusUnauthorized, "AUTH_FAILED", "Authentication failed")
		return nil, nil, false
	}
	return claims, u, true
}

// logout revokes the token it is called with, so signing out ends it
// everywhere rather than only in the browser that forgets it; the sockets
// it opened are logged out at once. It takes the token in the header, not
// a cookie, so another site cannot sign a visitor out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	claims, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	if err := s.Auth.RevokeToken(r.Context(), claims); err != nil {
		s.Log.Error("logout", "user", u.Name, "err", err)
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "signing out failed")
		return
	}
	s.Log.Info("logout", "user", u.Name, "remote", clientIP(r))
	for _, c := range s.hub.clientsByUser()[u.ID] {
		if c.claims.ID == claims.ID {
			c.forceLogout("logout", "You signed out")
		}
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// workspaceJSON is a workspace as the browser sees it: no server paths of
// other users, only the user's own.
type workspaceJSON struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	LocalPath    string    `json:"localPath"`
	GitHubRepo   string    `json:"githubRepo"`
	RepoURL      string    `json:"repoUrl"`
	Branch       string    `json:"branch"`
	CreatedAt    time.Time `json:"createdAt"`
	LastActivity time.Time `json:"lastActivity"`
}

func toWorkspaceJSON(w *store.Workspace) workspaceJSON {
	return workspaceJSON{ID: w.ID, Name: w.Name, LocalPath: w.LocalPath, GitHubRepo: githubRepo(w.RepoURL),
		RepoURL: w.RepoURL, Branch: w.Branch, CreatedAt: w.CreatedAt, LastActivity: w.LastActivity}
}

// githubRepo is "owner/name" for a github.com URL, else "".
func githubRepo(u string) string {
	for _, p := range []string{"https://github.com/", "git@github.com:", "ssh://git@github.com/"} {
		if rest, ok := strings.CutPrefix(u, p); ok {
			return strings.TrimSuffix(rest, ".git")
		}
	}
	return ""
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request, u *store.User) {
	list, err := s.Store.Workspaces(r.Context(), u.ID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "listing workspaces failed")
		return
	}
	out := make([]workspaceJSON, 0, len(list))
	for _, ws := range list {
		out = append(out, toWorkspaceJSON(ws))
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaces": out})
}
