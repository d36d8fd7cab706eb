package engineio

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Transport names, as in the "transport" query parameter.
const (
	transportPolling   = "polling"
	transportWebSocket = "websocket"
)

// Close reasons passed to OnClose.
const (
	ReasonTransportClose = "transport close"      // the client closed, or the connection dropped
	ReasonTransportError = "transport error"      // a read or write failed
	ReasonPingTimeout    = "ping timeout"         // no pong within PingTimeout
	ReasonPollTimeout    = "poll timeout"         // no polling GET within PollGrace
	ReasonParseError     = "parse error"          // the client broke the protocol
	ReasonServerShutdown = "server shutting down" // Server.Close
	ReasonForcedClose    = "forced close"         // Conn.Close or Conn.Terminate
)

// Message is one Engine.IO message: UTF-8 text or binary. Data received in
// OnMessage belongs to the callee.
type Message struct {
	Binary bool
	Data   []byte
}

// Conn is one Engine.IO session, whichever transport currently carries it.
// Its send methods are safe for concurrent use.
type Conn struct {
	srv  *Server
	id   string
	hs   handshake
	q    *outQueue
	done chan struct{}
	// direct is the websocket writer's, while it runs.
	direct atomic.Pointer[directWriter]
	// writing is set while a websocket writer runs (see writeLoop).
	writing atomic.Bool

	// recvMu serialises inbound delivery: OnMessage calls never overlap and
	// OnClose runs after the last of them.
	recvMu    sync.Mutex
	onMessage func(Message)
	onClose   func(reason string)

	mu           sync.Mutex
	transport    string
	upgrading    bool            // probe answered; polling GETs get a noop
	probing      bool            // an upgrade probe is being served
	probe        *websocket.Conn // the probe's websocket, once upgraded
	getActive    bool
	postActive   bool
	closed       bool
	lingering    bool // closed, but one more poll may collect the final packet
	reason       string
	final        []byte // last packet for a pending polling GET
	pingTimer    *time.Timer
	pollTimer    *time.Timer // armed between polling GETs, see PollGrace
	pongTimer    *time.Timer
	pingSeq      uint64
	awaitingPong bool
	pongDeadline time.Time
	pingSent     time.Time     // when the ping awaiting its pong went out
	rtt          time.Duration // of the last answered ping
	nextPing     time.Time     // when the fixed-cadence ping is due
	registered   bool
	holds        int // goroutines still using c; the last one releases srv.wg and closes gone
	gone         chan struct{}
}

// acquire counts one more goroutine working for c, unless c is closed.
func (c *Conn) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.holds++
	return true
}

func (c *Conn) release() {
	c.mu.Lock()
	c.holds--
	last := c.holds == 0
	c.mu.Unlock()
	if last {
		close(c.gone)
		c.srv.wg.Done()
	}
}

func (s *Server) newConn(r *http.Request, transport string) *Conn {
	return &Conn{
		srv:       s,
		id:        newID(),
		hs:        newHandshake(r),
		q:         newOutQueue(s.cfg.queueBytes),
		done:      make(chan struct{}),
		gone:      make(chan struct{}),
		transport: transport,
	}
}

// handshake is what a connection's life may need of the request that
// opened it. Not a Clone of it: that copies every field, the headers twice
// over, for every idle connection.
type handshake struct {
	method, path, rawQuery, host, remoteAddr string
	header                                   http.Header
	tls                                      *tls.ConnectionState
}

func newHandshake(r *http.Request) handshake {
	n := 0
	for k := range r.Header {
		if !upgradeHeader(k) {
			n++
		}
	}
	h := make(http.Header, n)
	for k, v := range r.Header {
		if !upgradeHeader(k) {
			h[k] = v // net/http made these for this request alone
		}
	}
	return handshake{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, host: r.Host,
		remoteAddr: r.RemoteAddr, header: h, tls: r.TLS}
}

// upgradeHeader reports the websocket upgrade's own headers, spent once it
// is done.
func upgradeHeader(k string) bool {
	switch k {
	case "Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions":
		return true
	}
	return false
}

// ID returns the session id.
func (c *Conn) ID() string { return c.id }

// Request returns the handshake request as the connection kept it: method,
// URL path and query, headers (less the websocket upgrade's own, and
// shared by every call), remote address, Host and TLS state. Its body is
// empty and its context is not the request's. Each call makes a new one.
func (c *Conn) Request() *http.Request {
	return &http.Request{
		Method:     c.hs.method,
		URL:        &url.URL{Path: c.hs.path, RawQuery: c.hs.rawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     c.hs.header,
		Body:       http.NoBody,
		Host:       c.hs.host,
		RemoteAddr: c.hs.remoteAddr,
		TLS:        c.hs.tls,
	}
}

// Transport returns "polling" or "websocket".
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// Done is closed when the connection closes.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Reason returns why the connection closed, or "" while it is open.
func (c *Conn) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// QueuedBytes reports how many bytes of messages wait to be written.
func (c *Conn) QueuedBytes() int { return c.q.queuedBytes() }

// PingRTT is the round-trip time of the last answered ping, 0 before the
// first.
func (c *Conn) PingRTT() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtt
}

// OnMessage sets the inbound message handler. Call it from
// Server.OnConnection. Messages are delivered one at a time, in order, on
// the goroutine reading the transport: a handler that blocks stops reading.
func (c *Conn) OnMessage(fn func(Message)) { c.onMessage = fn }

// OnClose sets the handler called once when the connection closes, after
// the last OnMessage call has returned. Call it from Server.OnConnection.
func (c *Conn) OnClose(fn func(reason string)) { c.onClose = fn }

// Send queues messages as one unit without blocking: all are queued, or
// none and the error is ErrQueueFull or ErrClosed. Data is copied.
func (c *Conn) Send(msgs ...Message) error {
	return c.SendBuffers(toBuffers(msgs)...)
}

// SendContext is Send that waits for room in the queue until ctx is done or
// the connection closes.
func (c *Conn) SendContext(ctx context.Context, msgs ...Message) error {
	return c.SendBuffersContext(ctx, toBuffers(msgs)...)
}

// SendBuffers queues encoded messages as one unit without blocking, taking
// ownership of one reference to each buffer whatever the outcome.
func (c *Conn) SendBuffers(bufs ...*Buffer) error {
	if len(bufs) == 1 && c.trySend(bufs[0]) {
		return nil
	}
	return c.q.tryPush(bufs)
}

// SendBuffersContext is SendBuffers that waits for room until ctx is done or
// the connection closes.
func (c *Conn) SendBuffersContext(ctx context.Context, bufs ...*Buffer) error {
	if len(bufs) == 1 && c.trySend(bufs[0]) {
		return nil
	}
	return c.q.push(ctx, bufs)
}

func toBuffers(msgs []Message) []*Buffer {
	bufs := make([]*Buffer, len(msgs))
	for i, m := range msgs {
		if m.Binary {
			bufs[i] = NewBinaryBuffer()
		} else {
			bufs[i] = NewTextBuffer()
		}
		bufs[i].B = append(bufs[i].B, m.Data...)
	}
	return bufs
}

// Close closes the connection after flushing what is already queued.
func (c *Conn) Close() error {
	c.close(ReasonForcedClose, true, closePacket)
	return nil
}

// Terminate closes the connection at once, dropping queued messages, and
// reports reason to OnClose (use one of the Reason constants).
func (c *Conn) Terminate(reason string) {
	c.close(reason, false, closePacket)
}

// close is the single way a connection ends. final is what a pending polling
// GET answers with.
func (c *Conn) close(reason string, flush bool, final []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.reason = reason
	c.final = final
	probe := c.probe
	idlePolling := c.transport == transportPolling && !c.getActive
	// A client that closes while no poll is pending may still have one on
	// the way (it sends both at once); keep the session briefly so that
	// poll ends cleanly instead of with "unknown session".
	c.lingering = idlePolling && reason == ReasonTransportClose
	if c.lingering {
		time.AfterFunc(c.srv.cfg.pingTimeout, func() { c.srv.unregister(c) })
	}
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	if c.pongTimer != nil {
		c.pongTimer.Stop()
	}
	if c.pollTimer != nil {
		c.pollTimer.Stop()
	}
	c.mu.Unlock()

	if !c.lingering {
		c.srv.unregister(c)
	}
	c.q.close()
	if !flush || idlePolling {
		// Nobody will write these: no flush wanted, or no GET to carry them.
		c.q.discard()
	}
	close(c.done)
	if probe != nil {
		_ = probe.Close()
	}
	if reason != ReasonServerShutdown && reason != ReasonTransportClose {
		c.srv.cfg.log.Debug("engineio: connection closed", "sid", c.id, "reason", reason)
	}

	c.mu.Lock()
	registered := c.registered
	c.mu.Unlock()
	go func() {
		if registered {
			defer c.release()
		}
		c.recvMu.Lock()
		defer c.recvMu.Unlock()
		if c.onClose != nil {
			c.onClose(reason)
		}
	}()
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// deliver hands one inbound message to the application.
func (c *Conn) deliver(m Message) {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if c.onMessage != nil && !c.isClosed() {
		c.onMessage(m)
	}
}

// handlePacket acts on one inbound packet of the established transport and
// reports false when the connection must stop reading.
func (c *Conn) handlePacket(p packet) bool {
	switch {
	case p.binary || p.typ == typeMessage:
		c.deliver(Message{Binary: p.binary, Data: p.data})
	case p.typ == typePong:
		c.onPong()
	case p.typ == typePing:
		// v4 clients do not ping, but answering is harmless.
		c.q.pushCtrl(pongPacket)
	case p.typ == typeNoop:
	case p.typ == typeClose:
		// A polling GET still pending ends cleanly with a noop.
		c.close(ReasonTransportClose, false, noopPacket)
		return false
	default: // open or upgrade on an established transport
		c.close(ReasonParseError, false, closePacket)
		return false
	}
	return true
}

// start announces c, arms the heartbeat and registers it. OnConnection
// runs first so its handlers are in place before any request can find c;
// a connection it closes (to refuse it) is never registered.
func (c *Conn) start() bool {
	if c.srv.OnConnection != nil {
		c.srv.OnConnection(c)
	}
	if c.isClosed() {
		return false
	}
	c.mu.Lock()
	c.nextPing = time.Now().Add(c.srv.cfg.pingInterval)
	c.pingTimer = time.AfterFunc(c.srv.cfg.pingInterval, c.sendPing)
	c.mu.Unlock()
	if !c.srv.register(c) {
		c.close(ReasonServerShutdown, false, closePacket)
		return false
	}
	return true
}
