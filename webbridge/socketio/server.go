package socketio

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

// Defaults used for zero-valued Server fields.
const (
	DefaultConnectTimeout     = 45 * time.Second
	DefaultMaxUnauthenticated = 256
)

// Server is a Socket.IO v5 endpoint. Mount it at the client's path (by
// default "/socket.io/"). The zero value is ready to use; the exported
// fields must not change once the first request has been served or Of has
// been called.
type Server struct {
	// PingInterval and PingTimeout drive the Engine.IO heartbeat.
	PingInterval, PingTimeout time.Duration
	// ConnectTimeout closes connections that join no namespace in time.
	ConnectTimeout time.Duration
	// MaxPayload bounds inbound messages and polling bodies, in bytes, and
	// the binary attachments of one packet together.
	MaxPayload int64
	// MaxUnauthenticated bounds the connections that have not joined a
	// namespace yet (default 256); more are refused with 503.
	MaxUnauthenticated int
	// QueueBytes bounds each connection's outbound queue, in bytes.
	QueueBytes int
	// WriteTimeout bounds every write to a client.
	WriteTimeout time.Duration
	// PollGrace releases a polling client whose next GET does not come in
	// time (engineio.Server.PollGrace).
	PollGrace time.Duration
	// EnableCompression negotiates permessage-deflate when offered.
	EnableCompression bool
	// CheckOrigin vets the Origin header; failures get 403. Nil allows
	// same-origin requests and requests without Origin.
	CheckOrigin func(r *http.Request) bool
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger

	once               sync.Once
	engine             *engineio.Server
	connectTimeout     time.Duration
	maxPayload         int64
	maxUnauthenticated int
	log                *slog.Logger
	unauthenticated    atomic.Int64 // connections in no namespace yet

	mu   sync.RWMutex
	nsps map[string]*Namespace
}

func (s *Server) init() {
	s.once.Do(func() {
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.Default()
		}
		s.connectTimeout = s.ConnectTimeout
		if s.connectTimeout <= 0 {
			s.connectTimeout = DefaultConnectTimeout
		}
		s.maxPayload = s.MaxPayload
		if s.maxPayload <= 0 {
			s.maxPayload = engineio.DefaultMaxPayload
		}
		s.maxUnauthenticated = s.MaxUnauthenticated
		if s.maxUnauthenticated <= 0 {
			s.maxUnauthenticated = DefaultMaxUnauthenticated
		}
		s.engine = &engineio.Server{
			PingInterval:      s.PingInterval,
			PingTimeout:       s.PingTimeout,
			MaxPayload:        s.MaxPayload,
			QueueBytes:        s.QueueBytes,
			WriteTimeout:      s.WriteTimeout,
			PollGrace:         s.PollGrace,
			EnableCompression: s.EnableCompression,
			CheckOrigin:       s.CheckOrigin,
			Logger:            s.log,
			OnConnection:      s.serveConn,
		}
		s.mu.Lock()
		if s.nsps == nil {
			// The main namespace always exists, as clients expect.
			s.nsps = map[string]*Namespace{"/": newNamespace(s, "/")}
		}
		s.mu.Unlock()
	})
}

// ServeHTTP serves the Engine.IO transports carrying Socket.IO.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	s.engine.ServeHTTP(w, r)
}

// Of returns the namespace called name ("/" is the main one; a missing
// leading slash is added), creating it on first use. Clients can only join
// namespaces created this way.
func (s *Server) Of(name string) *Namespace {
	s.init()
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.nsps[name]
	if ns == nil {
		ns = newNamespace(s, name)
		s.nsps[name] = ns
	}
	return ns
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// Close disconnects every client (reason "server shutting down"; clients
// reconnect on their own), flushing what is already queued, refuses new
// connections and waits for connection goroutines to finish.
func (s *Server) Close() {
	s.init()
	s.engine.Close()
}

// DisconnectAll disconnects every client like Close but keeps accepting.
func (s *Server) DisconnectAll(ctx context.Context) {
	s.init()
	s.engine.DisconnectAll(ctx)
}

// ConnCount reports the number of open Engine.IO connections.
func (s *Server) ConnCount() int {
	s.init()
	return s.engine.ConnCount()
}
