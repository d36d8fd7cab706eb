package webbridge

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// Rooms, as in the protocol: every socket is in its user's room; sockets
// that joined a workspace are in its room; sockets attached to a session
// are in its room.
func userRoom(id string) string      { return "user_" + id }
func workspaceRoom(id string) string { return "workspace_" + id }
func sessionRoom(id string) string   { return "session_" + id }

func (s *Server) newSocketServer() *socketio.Server {
	io := &socketio.Server{
		PingInterval:       s.Socket.PingInterval,
		PingTimeout:        s.Socket.PingTimeout,
		MaxPayload:         s.Socket.MaxPayload,
		ConnectTimeout:     s.Socket.ConnectTimeout,
		MaxUnauthenticated: s.Socket.MaxUnauthenticated,
		QueueBytes:         s.Socket.QueueBytes,
		PollGrace:          s.Socket.PollGrace,
		EnableCompression:  s.Socket.Compression,
		CheckOrigin:        s.originAllowed,
		Logger:             s.Log.With("component", "socketio"),
	}
	ns := io.Of("/")
	ns.Use(s.authenticate)
	ns.OnConnection(s.onConnection)
	s.registerEvents(ns)
	return io
}

// originAllowed refuses cross-site WebSocket and polling requests: an Origin,
// when present, must be the public URL's or the request's own origin,
// scheme included (a page served over plain http must not drive the https
// site).
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser, or a same-origin GET that omits it
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := requestScheme(r)
	if strings.EqualFold(u.Host, r.Host) && strings.EqualFold(u.Scheme, scheme) {
		return true
	}
	if s.PublicURL != "" {
		if p, err := url.Parse(s.PublicURL); err == nil &&
			strings.EqualFold(p.Scheme, u.Scheme) && strings.EqualFold(p.Host, u.Host) {
			return true
		}
	}
	return false
}

// client is the bridge's state for one authenticated socket.
type client struct {
	srv    *Server
	sock   *socketio.Socket
	user   *store.User
	claims *auth.Claims
	log    clientLog
	binary bool            // terminal-output carries output as a binary attachment
	ctx    context.Context // ends when the socket disconnects
	cancel context.CancelFunc

	// Touched only by event handlers, which the socket runs one at a time.
	bucket    tokenBucket
	lastLimit time.Time

	mu         sync.Mutex
	closed     bool
	terms      map[string]*termView // attached sessions, by id; made on the first
	joined     map[string]bool      // joined workspaces, by id; likewise
	statusSent statusSums
	expiry     *time.Timer // see watchExpiry

	dl downloads
}

const clientKey = "codeterm.client"

// clientLog is the server's log with the socket's user and id: added to
// each record, since a logger made With them would keep a clone of the
// handler, attributes formatted, for every idle socket.
type clientLog struct{ c *client }

func (l clientLog) Debug(msg string, args ...any) { l.log(slog.LevelDebug, msg, args) }
func (l clientLog) Info(msg string, args ...any)  { l.log(slog.LevelInfo, msg, args) }
func (l clientLog) Warn(msg string, args ...any)  { l.log(slog.LevelWarn, msg, args) }
func (l clientLog) Error(msg string, args ...any) { l.log(slog.LevelError, msg, args) }

func (l clientLog) log(level slog.Level, msg string, args []any) {
	lg := l.c.srv.Log
	if !lg.Enabled(context.Background(), level) {
		return
	}
	lg.Log(context.Background(), level, msg, append([]any{"user", l.c.user.Name, "socket", l.c.sock.ID()}, args...)...)
}

func clientOf(s *socketio.Socket) *client {
	c, _ := s.Get(clientKey).(*client)
	return c
}

func (s *Server) onConnection(sock *socketio.Socket) {
	c := clientOf(sock)
	if c == nil { // cannot happen: authenticate sets it
		sock.Disconnect()
		return
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	c.bucket = newTokenBucket(s.Socket.EventsPerSecond)
	sock.Join(userRoom(c.user.ID))
	sock.OnDisconnect(func(reason string) { c.disconnected(reason) })
	s.hub.add(c)
	s.counters.connections.Add(1)
	s.counters.connected.Add(1)
	s.baseline(c.user.ID)
	c.watchExpiry()
	c.log.Info("socket connected", "transport", sock.Transport(), "remote", sock.Handshake().RemoteAddr)
}

// disconnected releases everything the socket held. Its sessions keep
// running; only its attachments go.
func (c *client) disconnected(reason string) {
	c.mu.Lock()
	c.closed = true
	if c.expiry != nil {
		c.expiry.Stop()
	}
	terms := c.terms
	joined := c.joined
	c.terms, c.joined = nil, nil
	c.mu.Unlock()
	c.cancel()
	for _, v := range terms {
		v.stop()
	}
	for id := range joined {
		c.srv.hub.release(id)
	}
	c.srv.hub.remove(c)
	c.srv.counters.connections.Add(-1)
	c.log.Info("socket disconnected", "reason", reason)
}

// handler is an event handler with its reply plumbing.
type handler func(c *client, m *socketio.Message, r *reply)

// on registers an event for every socket of ns. errEvent is where
// failures are reported besides the ack: "error", "terminal-error" or
// "workspace-error".
func on(ns *socketio.Namespace, event, errEvent string, h handler) {
	ns.On(event, func(s *socketio.Socket, m *socketio.Message, ack socketio.AckFunc) {
		c := clientOf(s)
		if c == nil { // cannot happen: authenticate sets it
			return
		}
		r := &reply{c: c, event: event, errEvent: errEvent, ack: ack}
		if !c.bucket.take(time.Now()) {
			c.rateLimited(r)
			return
		}
		if errEvent == "terminal-error" && c.srv.Sessions == nil {
			r.fail(unavailable("Terminal sessions"))
			return
		}
		defer func() {
			// A bug in one handler must not take down the server or the
			// connection.
			if p := recover(); p != nil {
				c.log.Error("event handler panic", "event", event, "panic", p)
				r.fail(internalError())
			}
		}()
		h(c, m, r)
	})
}

// rateLimited answers the ack of every refused event but sends the error
// event at most once a second: a flood must not be answered by a flood.
func (c *client) rateLimited(r *reply) {
	c.srv.counters.count(r.event, outcomeRateLimited)
	e := &wireError{Code: CodeRateLimited, Message: "Too many events; slow down",
		Details: "limit is " + strconv.Itoa(c.srv.Socket.EventsPerSecond) + " events per second"}
	if r.ack != nil {
		r.ack(ackError{Error: e})
	}
	if now := time.Now(); now.Sub(c.lastLimit) >= time.Second {
		c.lastLimit = now
		c.emit("error", errorEvent{wireError: e, Event: r.event, Timestamp: timestamp(now)})
		c.log.Warn("socket rate limited", "event", r.event)
	}
}

// reply answers one event: the ack, and on failure the error event.
type reply struct {
	c        *client
	event    string
	errEvent string
	ack      socketio.AckFunc

	// Context for the error event.
	sessionID, workspaceID, operation string
}

// ok acknowledges success with fields merged into {ok: true}.
func (r *reply) ok(fields map[string]any) {
	r.c.srv.counters.count(r.event, outcomeOK)
	if r.ack == nil {
		return
	}
	out := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		out[k] = v
	}
	out["ok"] = true
	if err := r.ack(out); err != nil && !errors.Is(err, socketio.ErrDisconnected) {
		r.c.log.Debug("ack", "event", r.event, "err", err)
	}
}

// fail reports e in the error event and the ack.
func (r *reply) fail(e *wireError) {
	r.c.srv.counters.count(r.event, outcomeError)
	if r.ack != nil {
		r.ack(ackError{Error: e})
	}
	r.c.emit(r.errEvent, errorEvent{wireError: e, SessionID: r.sessionID, WorkspaceID: r.workspaceID,
		Operation: r.operation, Event: r.event, Timestamp: timestamp(time.Now())})
}

// emit sends an event to this socket without blocking. A full queue means
// the client is far behind; control events are dropped then, output has
// its own path.
func (c *client) emit(event string, v any) {
	if err := c.sock.Emit(event, v); err != nil && !errors.Is(err, socketio.ErrDisconnected) {
		c.log.Debug("emit dropped", "event", event, "err", err)
	}
}

// goWork runs slow work (clones, database, git) off the socket's reading
// goroutine, which must never block; Close waits for it.
func (c *client) goWork(fn func()) {
	c.srv.wg.Add(1)
	go func() {
		defer c.srv.wg.Done()
		fn()
	}()
}

// toRooms broadcasts to the union of rooms. Sockets too far behind to take
// it are skipped: these are status events, and the next one supersedes it.
func (s *Server) toRooms(event string, v any, rooms ...string) {
	if len(rooms) == 0 {
		return
	}
	b := s.io.Of("/").To(rooms[0])
	for _, r := range rooms[1:] {
		b = b.To(r)
	}
	payload, err := json.Marshal(v)
	if err != nil {
		s.Log.Error("encode event", "event", event, "err", err)
		return
	}
	if err := b.Emit(event, json.RawMessage(payload)); err != nil {
		s.Log.Debug("broadcast", "event", event, "err", err)
	}
}

// tokenBucket limits a socket's events per second.
type tokenBucket struct {
	rate, tokens float64
	last         time.Time
}

func newTokenBucket(perSecond int) tokenBucket {
	return tokenBucket{rate: float64(perSecond), tokens: float64(perSecond), last: time.Now()}
}

func (b *tokenBucket) take(now time.Time) bool {
	b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// registerEvents registers the events once for all sockets: handlers
// registered per socket would cost each connection a map and a closure per
// event.
func (s *Server) registerEvents(ns *socketio.Namespace) {
	// Terminal
	on(ns, "create-terminal", "terminal-error", (*client).createTerminal)
	on(ns, "attach-terminal", "terminal-error", (*client).attachTerminal)
	on(ns, "detach-terminal", "terminal-error", (*client).detachTerminal)
	on(ns, "terminal-input", "terminal-error", (*client).terminalInput)
	on(ns, "terminal-resize", "terminal-error", (*client).terminalResize)
	on(ns, "kill-terminal", "terminal-error", (*client).killTerminal)
	on(ns, "list-terminals", "terminal-error", (*client).listTerminals)
	on(ns, "rename-terminal", "terminal-error", (*client).renameTerminal)
	// Sharing
	on(ns, "share-session", "terminal-error", (*client).shareSession)
	on(ns, "unshare-session", "terminal-error", (*client).unshareSession)
	on(ns, "list-shares", "terminal-error", (*client).listShares)
	on(ns, "record-session", "terminal-error", (*client).recordSession)
	on(ns, "list-commands", "terminal-error", (*client).listCommands)
	// Workspace
	on(ns, "create-workspace", "workspace-error", (*client).createWorkspace)
	on(ns, "cancel-workspace", "workspace-error", (*client).cancelWorkspace)
	on(ns, "delete-workspace", "workspace-error", (*client).deleteWorkspace)
	on(ns, "sync-workspace", "workspace-error", (*client).syncWorkspace)
	on(ns, "get-workspace-status", "workspace-error", (*client).getWorkspaceStatus)
	on(ns, "join-workspace", "workspace-error", (*client).joinWorkspace)
	on(ns, "leave-workspace", "workspace-error", (*client).leaveWorkspace)
	// GitHub
	on(ns, "get-repositories", "error", (*client).getRepositories)
	on(ns, "clone-workspace", "workspace-error", (*client).cloneWorkspace)
	on(ns, "repository-selected", "error", (*client).repositorySelected)
	// System
	on(ns, "system-stats", "error", (*client).systemStats)
	registerFileEvents(ns)
	registerPortEvents(ns)
	on(ns, "metrics", "error", (*client).metrics)
	// Anything else is answered rather than silently dropped, so a client
	// with a typo learns of it.
	ns.OnAny(func(s *socketio.Socket, event string, m *socketio.Message, ack socketio.AckFunc) {
		if knownEvents[event] {
			return
		}
		c := clientOf(s)
		if c == nil {
			return
		}
		r := &reply{c: c, event: event, errEvent: "error", ack: ack}
		if !c.bucket.take(time.Now()) {
			c.rateLimited(r)
			return
		}
		r.fail(&wireError{Code: "UNKNOWN_EVENT", Message: "Unknown event", Details: truncate(event, 64)})
	})
}

var knownEvents = map[string]bool{
	"create-terminal": true, "attach-terminal": true, "detach-terminal": true, "terminal-input": true,
	"terminal-resize": true, "kill-terminal": true, "list-terminals": true, "rename-terminal": true,
	"list-commands":    true,
	"create-workspace": true, "cancel-workspace": true, "delete-workspace": true, "sync-workspace": true,
	"get-workspace-status": true, "join-workspace": true, "leave-workspace": true,
	"get-repositories": true, "clone-workspace": true, "repository-selected": true, "system-stats": true,
	"list-ports":    true,
	"share-session": true, "unshare-session": true, "list-shares": true, "record-session": true,
	"metrics": true,
}

func init() {
	for _, ev := range fileEvents {
		knownEvents[ev] = true
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
