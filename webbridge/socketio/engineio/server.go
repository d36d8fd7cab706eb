package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults used for zero-valued Server fields.
const (
	DefaultPingInterval = 25 * time.Second
	DefaultPingTimeout  = 20 * time.Second
	DefaultMaxPayload   = 1_000_000
	DefaultQueueBytes   = 1 << 20
	DefaultWriteTimeout = 10 * time.Second
	DefaultPollGrace    = 5 * time.Second
)

// Server is an Engine.IO v4 endpoint. Mount it where clients connect
// (usually "/engine.io/"); the zero value is ready to use, and the exported
// fields must not change once the first request has been served.
type Server struct {
	// PingInterval is how often the server pings; PingTimeout is how long
	// it waits for the pong before closing the connection.
	PingInterval, PingTimeout time.Duration
	// MaxPayload bounds an inbound websocket message or polling request
	// body, in bytes. Larger ones are refused (413, or websocket close).
	MaxPayload int64
	// QueueBytes bounds each connection's outbound queue.
	QueueBytes int
	// WriteTimeout bounds every write to a client.
	WriteTimeout time.Duration
	// PollGrace is how long a polling connection may go without a GET
	// once the last one was answered; then the client is taken to have
	// vanished (no close packet) and its connection and queue are released,
	// well before a ping would time out.
	PollGrace time.Duration
	// EnableCompression negotiates permessage-deflate when the client
	// offers it.
	EnableCompression bool
	// CheckOrigin vets the Origin of every request; failures get 403.
	// When nil, requests without an Origin header or whose Origin is the
	// request's own (Host, and https exactly when over TLS) are allowed.
	CheckOrigin func(r *http.Request) bool
	// Logger receives connection-level diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// OnConnection is called once for every new connection, before any of
	// its messages are read: register Conn.OnMessage and Conn.OnClose here.
	// Closing the connection here refuses it: the handshake gets a 503.
	OnConnection func(c *Conn)

	// writerGrace replaces defaultWriterGrace in tests.
	writerGrace time.Duration

	once     sync.Once
	cfg      settings
	probes   sync.Pool // *probe, see worthDeflating
	upgrader websocket.Upgrader

	mu     sync.RWMutex
	conns  map[string]*Conn
	closed bool
	wg     sync.WaitGroup // one count per registered connection
}

// settings are the effective, defaulted configuration.
type settings struct {
	pingInterval, pingTimeout, writeTimeout time.Duration
	pollGrace, writerGrace                  time.Duration
	maxPayload                              int64
	queueBytes                              int
	log                                     *slog.Logger
}

func (s *Server) init() {
	s.once.Do(func() {
		s.cfg = settings{
			pingInterval: orDefault(s.PingInterval, DefaultPingInterval),
			pingTimeout:  orDefault(s.PingTimeout, DefaultPingTimeout),
			writeTimeout: orDefault(s.WriteTimeout, DefaultWriteTimeout),
			pollGrace:    orDefault(s.PollGrace, DefaultPollGrace),
			writerGrace:  orDefault(s.writerGrace, defaultWriterGrace),
			maxPayload:   orDefault(s.MaxPayload, DefaultMaxPayload),
			queueBytes:   orDefault(s.QueueBytes, DefaultQueueBytes),
			log:          s.Logger,
		}
		if s.cfg.log == nil {
			s.cfg.log = slog.Default()
		}
		s.upgrader = websocket.Upgrader{
			HandshakeTimeout: s.cfg.writeTimeout,
			// A small read buffer of its own, not the 4 KiB one net/http
			// has for the connection: the buffer lives as long as an idle
			// connection, which only ever gets keystrokes and heartbeats.
			// Larger messages are read past it, straight into theirs.
			ReadBufferSize:    wsReadBuffer,
			WriteBufferSize:   16 << 10,
			WriteBufferPool:   &sync.Pool{},
			EnableCompression: s.EnableCompression,
			// Origins are vetted in ServeHTTP, before any transport.
			CheckOrigin: func(*http.Request) bool { return true },
		}
		s.conns = make(map[string]*Conn)
	})
}

// wsReadBuffer is the websocket transport's read buffer: a keystroke's
// terminal-input frame is under 100 bytes.
const wsReadBuffer = 512

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// ServeHTTP routes a handshake, a polling request or a websocket upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, codeForbidden)
		return
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		writeError(w, http.StatusBadRequest, codeUnsupportedVersion)
		return
	}
	transport := q.Get("transport")
	if transport != transportPolling && transport != transportWebSocket {
		writeError(w, http.StatusBadRequest, codeUnknownTransport)
		return
	}
	if transport == transportWebSocket && !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}

	sid := q.Get("sid")
	if sid == "" {
		switch {
		case s.isClosed():
			http.Error(w, "server closed", http.StatusServiceUnavailable)
		case transport == transportWebSocket:
			s.openWebSocket(w, r)
		case r.Method != http.MethodGet:
			writeError(w, http.StatusBadRequest, codeBadHandshakeMethod)
		default:
			s.openPolling(w, r)
		}
		return
	}

	c := s.lookup(sid)
	if c == nil || c.overdue() {
		writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	}
	switch {
	case transport == transportWebSocket:
		c.serveProbe(w, r)
	case r.Method == http.MethodGet:
		c.servePoll(w, r)
	case r.Method == http.MethodPost:
		c.serveData(w, r)
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest)
	}
}

// originAllowed applies CheckOrigin, or the same-origin default.
func (s *Server) originAllowed(r *http.Request) bool {
	if s.CheckOrigin != nil {
		return s.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return err == nil && strings.EqualFold(u.Host, r.Host) && strings.EqualFold(u.Scheme, scheme)
}

// Close closes every connection, letting each writer flush what is already
// queued (bounded by WriteTimeout), refuses new ones, and waits for the
// connections' goroutines to finish.
func (s *Server) Close() {
	s.init()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.closeConns()
	s.mu.Lock()
	clear(s.conns) // sessions lingering for a last poll
	s.mu.Unlock()
	s.wg.Wait()
}

// closeConns closes every connection, letting it flush what is queued, and
// returns them.
func (s *Server) closeConns() []*Conn {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(ReasonServerShutdown, true, closePacket)
	}
	return conns
}

// DisconnectAll closes every connection as Close does (clients reconnect
// on their own) but goes on accepting new ones, for a server about to be
// replaced in place. It waits until they have flushed, or ctx ends.
func (s *Server) DisconnectAll(ctx context.Context) {
	s.init()
	for _, c := range s.closeConns() {
		select {
		case <-c.gone: // registered connections always had a hold, released at the end
		case <-ctx.Done():
			return
		}
	}
}

// ConnCount reports the number of open connections.
func (s *Server) ConnCount() int {
	s.init()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

func (s *Server) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

func (s *Server) lookup(sid string) *Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conns[sid]
}

// register adds c unless the server is closing. A registered connection
// holds one count of s.wg until its goroutines are done (see Conn.release),
// so Close can wait for them without racing new ones.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c.id] = c
	s.wg.Add(1)
	c.mu.Lock()
	c.holds = 1 // released by the close callback goroutine
	c.registered = true
	c.mu.Unlock()
	return true
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	s.mu.Unlock()
}

// openPacket is the handshake: the session id and the timing contract.
func (s *Server) openPacket(sid string, upgrades []string) []byte {
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{sid, upgrades, s.cfg.pingInterval.Milliseconds(), s.cfg.pingTimeout.Milliseconds(), s.cfg.maxPayload})
	return append([]byte{typeOpen}, b...)
}

// newID returns an unguessable session id.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
