package engineio

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestHandshakePolling(t *testing.T) {
	_, ts := newEchoServer(t, &Server{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1000})
	code, body := httpDo(t, "GET", pollURL(ts, ""), "")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	o := parseOpen(t, body)
	if o.SID == "" || len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" ||
		o.PingInterval != 300 || o.PingTimeout != 200 || o.MaxPayload != 1000 {
		t.Fatalf("open = %+v", o)
	}
	var keys map[string]any
	_ = json.Unmarshal([]byte(body[1:]), &keys)
	if len(keys) != 5 {
		t.Fatalf("open packet has keys %v, want exactly 5", keys)
	}
}

func TestHandshakeWebSocket(t *testing.T) {
	_, ts := newEchoServer(t, nil)
	ws := dialWS(t, wsURL(ts, ""))
	_, msg := readWS(t, ws)
	o := parseOpen(t, msg)
	if o.SID == "" || o.Upgrades == nil || len(o.Upgrades) != 0 || o.PingInterval != 25000 || o.PingTimeout != 20000 || o.MaxPayload != 1000000 {
		t.Fatalf("open = %+v (raw %s)", o, msg)
	}
}

func TestRejectedRequests(t *testing.T) {
	_, ts := newEchoServer(t, nil)
	base := ts.URL + "/engine.io/?"
	tests := []struct {
		method, query string
		code          int
		errCode       int
	}{
		{"GET", "transport=polling", 400, 5},
		{"GET", "EIO=3&transport=polling", 400, 5},
		{"GET", "EIO=abc&transport=polling", 400, 5},
		{"GET", "EIO=4", 400, 0},
		{"GET", "EIO=4&transport=abc", 400, 0},
		{"POST", "EIO=4&transport=polling", 400, 2},
		{"PUT", "EIO=4&transport=polling", 400, 2},
		{"GET", "EIO=4&transport=polling&sid=nope", 400, 1},
		{"POST", "EIO=4&transport=polling&sid=nope", 400, 1},
		{"GET", "EIO=4&transport=websocket", 400, 3}, // not an upgrade request
	}
	for _, tt := range tests {
		code, body := httpDo(t, tt.method, base+tt.query, "")
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || code != tt.code || e.Code != tt.errCode || e.Message == "" {
			t.Errorf("%s %s: %d %s, want %d code %d", tt.method, tt.query, code, body, tt.code, tt.errCode)
		}
	}
	code, body := httpDo(t, "GET", base+"EIO=4&transport=polling&sid=nope", "")
	if code != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("bad sid: %d %s", code, body)
	}
}

func TestPollingEcho(t *testing.T) {
	_, ts := newEchoServer(t, nil)
	sid := openPolling(t, ts)
	if code, body := httpDo(t, "POST", pollURL(ts, sid), "4hello\x1e4world\x1ebAQIDBA=="); code != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", code, body)
	}
	if code, body := httpDo(t, "GET", pollURL(ts, sid), ""); code != 200 || body != "4hello\x1e4world\x1ebAQIDBA==" {
		t.Fatalf("GET: %d %q", code, body)
	}
}

func TestPollingInvalidPacketClosesSession(t *testing.T) {
	srv, ts := newEchoServer(t, nil)
	sid := openPolling(t, ts)
	if code, _ := httpDo(t, "POST", pollURL(ts, sid), "abc"); code != 400 {
		t.Fatalf("POST abc: %d, want 400", code)
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("GET after protocol error: %d, want 400", code)
	}
	if n := srv.ConnCount(); n != 0 {
		t.Fatalf("ConnCount = %d", n)
	}
}

func TestPollingConcurrentGetClosesSession(t *testing.T) {
	srv, ts := newEchoServer(t, nil)
	sid := openPolling(t, ts)
	type result struct {
		code int
		body string
	}
	first := make(chan result, 1)
	go func() {
		code, body := httpDo(t, "GET", pollURL(ts, sid), "")
		first <- result{code, body}
	}()
	c := srv.lookup(sid)
	eventually(t, "first poll pending", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.getActive
	})
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("second GET: %d, want 400", code)
	}
	if r := <-first; r.code != 200 || r.body != "1" {
		t.Fatalf("first GET: %d %q, want 200 \"1\"", r.code, r.body)
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("GET after close: %d, want 400", code)
	}
}

// A client may send its next poll or POST, on another connection, as soon
// as it has read the answer to the last one, while the server is still
// finishing that answer: that is not two at once.
func TestPollingNextRequestWhileAnswering(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	srv := &Server{OnConnection: func(c *Conn) {
		c.OnMessage(func(m Message) { _ = c.Send(m) })
	}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("hold") {
			w = &holdingWriter{ResponseWriter: w, release: release}
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		free()
		srv.Close()
		ts.Close()
	})
	// A connection per request, as a held one cannot take the next.
	client := &http.Client{Timeout: testTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	do := func(method, url, body string) (int, string) {
		t.Helper()
		return httpDoWith(t, client, method, url, body)
	}
	sid := openPolling(t, ts)
	held := pollURL(ts, sid) + "&hold"
	if code, body := do("POST", pollURL(ts, sid), "4one"); code != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", code, body)
	}
	// Both answered; neither handler has returned.
	if code, body := do("GET", held, ""); code != 200 || body != "4one" {
		t.Fatalf("held GET: %d %q", code, body)
	}
	if code, body := do("POST", held, "4two"); code != 200 || body != "ok" {
		t.Fatalf("held POST: %d %q", code, body)
	}
	if code, body := do("POST", pollURL(ts, sid), "4three"); code != 200 || body != "ok" {
		t.Fatalf("POST while the last one finishes: %d %q", code, body)
	}
	if code, body := do("GET", pollURL(ts, sid), ""); code != 200 || body != "4two\x1e4three" {
		t.Fatalf("GET while the last one finishes: %d %q", code, body)
	}
	free()
	if n := srv.ConnCount(); n != 1 {
		t.Fatalf("ConnCount = %d, want the session still open", n)
	}
}

// holdingWriter sends what the handler writes at once, then keeps the
// handler from returning until release is closed.
type holdingWriter struct {
	http.ResponseWriter
	release <-chan struct{}
}

func (w *holdingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	_ = http.NewResponseController(w.ResponseWriter).Flush()
	<-w.release
	return n, err
}

func (w *holdingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestPollingClientClose(t *testing.T) {
	srv, ts := newEchoServer(t, nil)
	sid := openPolling(t, ts)
	pending := make(chan string, 1)
	go func() {
		_, body := httpDo(t, "GET", pollURL(ts, sid), "")
		pending <- body
	}()
	c := srv.lookup(sid)
	eventually(t, "poll pending", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.getActive
	})
	if code, _ := httpDo(t, "POST", pollURL(ts, sid), "1"); code != 200 {
		t.Fatalf("POST close: %d", code)
	}
	if body := <-pending; body != "6" {
		t.Fatalf("pending poll got %q, want noop", body)
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("GET after close: %d, want 400", code)
	}
}

func TestPollingPayloadTooLarge(t *testing.T) {
	_, ts := newEchoServer(t, &Server{MaxPayload: 100})
	sid := openPolling(t, ts)
	if code, _ := httpDo(t, "POST", pollURL(ts, sid), "4"+strings.Repeat("x", 100)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST: %d, want 413", code)
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("GET after 413: %d, want 400", code)
	}
}

func TestWebSocketEcho(t *testing.T) {
	_, ts := newEchoServer(t, nil)
	ws := dialWS(t, wsURL(ts, ""))
	readWS(t, ws) // open
	writeWS(t, ws, websocket.TextMessage, "4hello")
	if mt, msg := readWS(t, ws); mt != websocket.TextMessage || msg != "4hello" {
		t.Fatalf("got %d %q", mt, msg)
	}
	writeWS(t, ws, websocket.BinaryMessage, "\x01\x02\x03")
	if mt, msg := readWS(t, ws); mt != websocket.BinaryMessage || msg != "\x01\x02\x03" {
		t.Fatalf("got %d %q", mt, msg)
	}
}

func TestWebSocketInvalidPacketCloses(t *testing.T) {
	_, ts := newEchoServer(t, nil)
	ws := dialWS(t, wsURL(ts, ""))
	readWS(t, ws)
	writeWS(t, ws, websocket.TextMessage, "abc")
	expectClosed(t, ws)
}

func TestWebSocketTooLargeCloses(t *testing.T) {
	_, ts := newEchoServer(t, &Server{MaxPayload: 100})
	ws := dialWS(t, wsURL(ts, ""))
	readWS(t, ws)
	writeWS(t, ws, websocket.TextMessage, "4"+strings.Repeat("x", 200))
	expectClosed(t, ws)
}

func TestHeartbeatWebSocket(t *testing.T) {
	srv, ts := newEchoServer(t, &Server{PingInterval: 20 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	ws := dialWS(t, wsURL(ts, ""))
	readWS(t, ws)
	for i := 0; i < 3; i++ {
		if _, msg := readWS(t, ws); msg != "2" {
			t.Fatalf("ping %d: got %q", i, msg)
		}
		writeWS(t, ws, websocket.TextMessage, "3")
	}
	// Stop answering: the server must give up on us.
	if _, msg := readWS(t, ws); msg != "2" {
		t.Fatalf("got %q, want ping", msg)
	}
	expectClosed(t, ws)
	eventually(t, "session removed", func() bool { return srv.ConnCount() == 0 })
}

func TestHeartbeatPolling(t *testing.T) {
	_, ts := newEchoServer(t, &Server{PingInterval: 20 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	sid := openPolling(t, ts)
	for i := 0; i < 3; i++ {
		if code, body := httpDo(t, "GET", pollURL(ts, sid), ""); code != 200 || body != "2" {
			t.Fatalf("poll %d: %d %q", i, code, body)
		}
		if code, _ := httpDo(t, "POST", pollURL(ts, sid), "3"); code != 200 {
			t.Fatalf("pong %d: %d", i, code)
		}
	}
	if _, body := httpDo(t, "GET", pollURL(ts, sid), ""); body != "2" {
		t.Fatalf("got %q, want ping", body)
	}
	// Unanswered: the next poll ends with close, or finds the session gone.
	code, body := httpDo(t, "GET", pollURL(ts, sid), "")
	if !(code == 200 && body == "1") && code != 400 {
		t.Fatalf("after ping timeout: %d %q", code, body)
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("session still alive: %d", code)
	}
}

func TestPingNotBehindBulk(t *testing.T) {
	// A client that reads nothing fills the queue; once it reads again the
	// ping must come right after the message in flight, not after the
	// whole queue. Small socket buffers keep the kernel from hiding it.
	ts, conns := directServer(t, &Server{PingInterval: time.Hour, QueueBytes: 1 << 20}, true)
	ws := dialDirect(t, ts, false, true)
	conn := <-conns
	readWS(t, ws)

	chunk := Message{Data: []byte(strings.Repeat("x", 32<<10))}
	for conn.Send(chunk) == nil {
	}
	queued := conn.QueuedBytes()
	conn.sendPing()
	seen := 0
	for {
		_, msg := readWS(t, ws)
		if msg == "2" {
			break
		}
		seen += len(msg)
	}
	if seen > queued/2 {
		t.Fatalf("ping came after %d bytes of bulk output (queue held %d)", seen, queued)
	}
}

func TestUpgrade(t *testing.T) {
	srv, ts := newEchoServer(t, nil)
	sid := openPolling(t, ts)
	pending := make(chan string, 1)
	go func() {
		_, body := httpDo(t, "GET", pollURL(ts, sid), "")
		pending <- body
	}()
	c := srv.lookup(sid)
	eventually(t, "poll pending", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.getActive
	})
	ws := dialWS(t, wsURL(ts, sid))
	writeWS(t, ws, websocket.TextMessage, "2probe")
	if _, msg := readWS(t, ws); msg != "3probe" {
		t.Fatalf("probe answer %q", msg)
	}
	if body := <-pending; body != "6" {
		t.Fatalf("pending poll got %q, want noop", body)
	}
	writeWS(t, ws, websocket.TextMessage, "5")
	writeWS(t, ws, websocket.TextMessage, "4hello")
	if _, msg := readWS(t, ws); msg != "4hello" {
		t.Fatalf("after upgrade got %q", msg)
	}
	if c.Transport() != "websocket" {
		t.Fatalf("transport %q", c.Transport())
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("poll after upgrade: %d, want 400", code)
	}
	// A second websocket for the same session is accepted then closed.
	ws2 := dialWS(t, wsURL(ts, sid))
	expectClosed(t, ws2)
	writeWS(t, ws, websocket.TextMessage, "4still")
	if _, msg := readWS(t, ws); msg != "4still" {
		t.Fatalf("original websocket got %q", msg)
	}
}

func TestUpgradeDeliversQueuedMessages(t *testing.T) {
	srv, ts := newEchoServer(t, nil)
	sid := openPolling(t, ts)
	ws := dialWS(t, wsURL(ts, sid))
	writeWS(t, ws, websocket.TextMessage, "2probe")
	readWS(t, ws)
	// Queued during the upgrade: must arrive over the websocket.
	if err := srv.lookup(sid).Send(Message{Data: []byte("queued")}); err != nil {
		t.Fatal(err)
	}
	writeWS(t, ws, websocket.TextMessage, "5")
	if _, msg := readWS(t, ws); msg != "4queued" {
		t.Fatalf("got %q", msg)
	}
}

func TestOriginCheck(t *testing.T) {
	_, ts := newEchoServer(t, &Server{CheckOrigin: func(r *http.Request) bool {
		return r.Header.Get("Origin") == "https://good.example"
	}})
	req, _ := http.NewRequest("GET", pollURL(ts, ""), nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("polling: %d, want 403", resp.StatusCode)
	}
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	_, wsResp, err := d.Dial(wsURL(ts, ""), http.Header{"Origin": {"https://evil.example"}})
	if err == nil || wsResp == nil || wsResp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket: err %v resp %v, want 403", err, wsResp)
	}
	wsResp.Body.Close()
	ws, resp2, err := d.Dial(wsURL(ts, ""), http.Header{"Origin": {"https://good.example"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	resp2.Body.Close()
	ws.Close()
}

func TestDefaultOriginIsSameOrigin(t *testing.T) {
	_, ts := newEchoServer(t, nil)
	req, _ := http.NewRequest("GET", pollURL(ts, ""), nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: %d, want 403", resp.StatusCode)
	}
	// Same host, other scheme: another origin.
	req.Header.Set("Origin", "https://"+strings.TrimPrefix(ts.URL, "http://"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("same host over https: %d, want 403", resp.StatusCode)
	}
	req.Header.Set("Origin", ts.URL)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("same origin: %d, want 200", resp.StatusCode)
	}
}

func TestServerCloseFlushesAndCloses(t *testing.T) {
	srv := &Server{}
	var mu sync.Mutex
	var reasons []string
	_, ts := newEchoServer(t, srv)
	srv.OnConnection = func(c *Conn) {
		c.OnClose(func(r string) {
			mu.Lock()
			reasons = append(reasons, r)
			mu.Unlock()
		})
		_ = c.Send(Message{Data: []byte("bye")})
	}
	ws := dialWS(t, wsURL(ts, ""))
	readWS(t, ws)
	if _, msg := readWS(t, ws); msg != "4bye" {
		t.Fatalf("got %q", msg)
	}
	if srv.ConnCount() != 1 {
		t.Fatalf("ConnCount = %d", srv.ConnCount())
	}
	srv.Close()
	expectClosed(t, ws)
	if srv.ConnCount() != 0 {
		t.Fatalf("ConnCount after Close = %d", srv.ConnCount())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 || reasons[0] != ReasonServerShutdown {
		t.Fatalf("close reasons %v", reasons)
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, ""), ""); code != http.StatusServiceUnavailable {
		t.Fatalf("handshake after Close: %d, want 503", code)
	}
}

// TestServerDisconnectAllKeepsServing: for a restart in place, every client
// is closed, and new clients are still served.
func TestServerDisconnectAllKeepsServing(t *testing.T) {
	srv := &Server{}
	_, ts := newEchoServer(t, srv)
	srv.OnConnection = func(c *Conn) { _ = c.Send(Message{Data: []byte("hello")}) }
	ws := dialWS(t, wsURL(ts, ""))
	readWS(t, ws)
	if _, msg := readWS(t, ws); msg != "4hello" {
		t.Fatalf("got %q", msg)
	}
	srv.DisconnectAll(context.Background())
	expectClosed(t, ws)
	if srv.ConnCount() != 0 {
		t.Fatalf("ConnCount after DisconnectAll = %d", srv.ConnCount())
	}
	again := dialWS(t, wsURL(ts, ""))
	readWS(t, again)
	if _, msg := readWS(t, again); msg != "4hello" {
		t.Fatalf("a new client after DisconnectAll got %q", msg)
	}
}

func TestCompression(t *testing.T) {
	_, ts := newEchoServer(t, &Server{EnableCompression: true})
	var wire atomic.Int64 // bytes read from the server, as sent
	d := websocket.Dialer{HandshakeTimeout: testTimeout, EnableCompression: true,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			return countingConn{c, &wire}, err
		}}
	ws, resp, err := d.Dial(wsURL(ts, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	resp.Body.Close()
	if ext := resp.Header.Get("Sec-Websocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("extensions %q, want permessage-deflate", ext)
	}
	readWS(t, ws)
	// Varied text that deflate barely shrinks, as a program's bulk output
	// often is.
	rnd := rand.New(rand.NewPCG(1, 2))
	varied := make([]byte, 64<<10)
	for i := range varied {
		varied[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/()[]{}<>"[rnd.IntN(80)]
	}
	for _, c := range []struct {
		name     string
		msg      string
		deflated bool
	}{
		{"small", "4" + strings.Repeat("compress me ", 1000), true},
		{"bulk, repetitive", "4" + strings.Repeat("compress me too ", 4000), true},
		{"bulk, varied", "4" + string(varied), false},
	} {
		writeWS(t, ws, websocket.TextMessage, c.msg)
		before := wire.Load()
		if _, msg := readWS(t, ws); msg != c.msg {
			t.Fatalf("%s: echo mismatch (%d bytes)", c.name, len(msg))
		}
		// gorilla reads whole frames, so the count now covers this one.
		n := int(wire.Load() - before)
		if deflated := n < len(c.msg); deflated != c.deflated {
			t.Errorf("%s: %d bytes on the wire for %d; deflated %v, want %v", c.name, n, len(c.msg), deflated, c.deflated)
		}
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestWebSocketMessagesAroundReadBuffer: messages smaller than, as large as
// and far larger than the transport's small read buffer, and several in one
// TCP segment, arrive whole and in order.
func TestWebSocketMessagesAroundReadBuffer(t *testing.T) {
	_, ts := newEchoServer(t, nil)
	ws := dialWS(t, wsURL(ts, ""))
	readWS(t, ws) // open
	var sizes []int
	for _, n := range []int{1, wsReadBuffer - 20, wsReadBuffer - 1, wsReadBuffer, wsReadBuffer + 1, 3 * wsReadBuffer, 200 << 10} {
		sizes = append(sizes, n, n) // a text message, then a binary one
	}
	for i, n := range sizes {
		msg := strings.Repeat(string(rune('a'+i%26)), n)
		if i%2 == 0 {
			writeWS(t, ws, websocket.TextMessage, "4"+msg)
			if mt, got := readWS(t, ws); mt != websocket.TextMessage || got != "4"+msg {
				t.Fatalf("text of %d bytes: got %d, %d bytes", n, mt, len(got))
			}
		} else {
			writeWS(t, ws, websocket.BinaryMessage, msg)
			if mt, got := readWS(t, ws); mt != websocket.BinaryMessage || got != msg {
				t.Fatalf("binary of %d bytes: got %d, %d bytes", n, mt, len(got))
			}
		}
	}
	// Many small frames written back to back, so one read brings several
	// and some end past the buffer.
	for i := range 100 {
		writeWS(t, ws, websocket.TextMessage, fmt.Sprintf("4key %03d", i))
	}
	for i := range 100 {
		if _, got := readWS(t, ws); got != fmt.Sprintf("4key %03d", i) {
			t.Fatalf("message %d: %q", i, got)
		}
	}
}
