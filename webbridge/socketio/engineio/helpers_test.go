package engineio

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testTimeout bounds every wait in these tests; nothing sleeps.
const testTimeout = 5 * time.Second

// newEchoServer serves an Engine.IO echo server and tears it down after
// the test.
func newEchoServer(t *testing.T, cfg *Server) (*Server, *httptest.Server) {
	t.Helper()
	if cfg == nil {
		cfg = &Server{}
	}
	cfg.OnConnection = func(c *Conn) {
		c.OnMessage(func(m Message) { _ = c.Send(m) })
	}
	ts := httptest.NewServer(cfg)
	t.Cleanup(func() {
		cfg.Close()
		ts.Close()
	})
	return cfg, ts
}

func pollURL(ts *httptest.Server, sid string) string {
	u := ts.URL + "/engine.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

func wsURL(ts *httptest.Server, sid string) string {
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/engine.io/?EIO=4&transport=websocket"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

type openInfo struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t *testing.T, body string) openInfo {
	t.Helper()
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("open packet = %q", body)
	}
	var o openInfo
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	return o
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	return httpDoWith(t, &http.Client{Timeout: testTimeout}, method, url, body)
}

func httpDoWith(t *testing.T, client *http.Client, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func openPolling(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	code, body := httpDo(t, "GET", pollURL(ts, ""), "")
	if code != 200 {
		t.Fatalf("handshake: %d %s", code, body)
	}
	return parseOpen(t, body).SID
}

func dialWS(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return ws
}

// readWS reads the next message within the test timeout.
func readWS(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	mt, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return mt, string(data)
}

func writeWS(t *testing.T, ws *websocket.Conn, mt int, data string) {
	t.Helper()
	if err := ws.WriteMessage(mt, []byte(data)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// expectClosed waits for the server to close ws.
func expectClosed(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	for {
		_, data, err := ws.ReadMessage()
		if err == nil {
			if string(data) == "2" { // pings may still arrive
				continue
			}
			t.Fatalf("unexpected message %q while waiting for close", data)
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Fatal("connection not closed in time")
		}
		return
	}
}

// eventually waits for a server-side state change that has no wire
// signal of its own.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// directServer serves an echo server and hands each connection to the
// test; small socket buffers make a client that stops reading back up into
// the queue quickly (and slow everything else down).
func directServer(t *testing.T, srv *Server, small bool) (*httptest.Server, chan *Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	srv.OnConnection = func(c *Conn) {
		c.OnMessage(func(m Message) { _ = c.Send(m) })
		conns <- c
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && st == http.StateNew && small {
			_ = tc.SetWriteBuffer(8 << 10)
		}
	}
	ts.Start()
	t.Cleanup(func() { srv.Close(); ts.Close() })
	return ts, conns
}

func dialDirect(t *testing.T, ts *httptest.Server, compress, small bool) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout, EnableCompression: compress,
		NetDial: func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if tc, ok := c.(*net.TCPConn); ok && small {
				_ = tc.SetReadBuffer(8 << 10)
			}
			return c, err
		}}
	ws, resp, err := d.Dial(wsURL(ts, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return ws
}
