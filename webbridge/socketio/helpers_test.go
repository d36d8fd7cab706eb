package socketio

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const testTimeout = 5 * time.Second

// newTestServer serves srv and tears it down after the test.
func newTestServer(t *testing.T, srv *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return ts
}

// rawClient speaks the wire protocol by hand over a gorilla websocket,
// answering pings itself.
type rawClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, ts *httptest.Server) *rawClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	c := &rawClient{t: t, ws: ws}
	if msg := c.read(); !strings.HasPrefix(msg, "0{") {
		t.Fatalf("open packet %q", msg)
	}
	return c
}

// connect joins nsp and returns the CONNECT answer.
func (c *rawClient) connect(nsp string) string {
	c.t.Helper()
	if nsp == "/" {
		c.send("40")
	} else {
		c.send("40" + nsp + ",")
	}
	msg := c.read()
	prefix := "40"
	if nsp != "/" {
		prefix += nsp + ","
	}
	if !strings.HasPrefix(msg, prefix+`{"sid":"`) {
		c.t.Fatalf("CONNECT answer %q", msg)
	}
	return msg
}

func (c *rawClient) send(msg string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatalf("send %q: %v", msg, err)
	}
}

func (c *rawClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("send binary: %v", err)
	}
}

// readFrame returns the next non-ping message.
func (c *rawClient) readFrame() (int, string) {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(testTimeout))
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if mt == websocket.TextMessage && string(data) == "2" {
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return mt, string(data)
	}
}

func (c *rawClient) read() string {
	c.t.Helper()
	mt, msg := c.readFrame()
	if mt != websocket.TextMessage {
		c.t.Fatalf("got binary %q, want text", msg)
	}
	return msg
}

func (c *rawClient) expect(want string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectClosed waits for the server to close the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(testTimeout))
	for {
		_, data, err := c.ws.ReadMessage()
		if err == nil {
			if string(data) == "2" {
				continue
			}
			c.t.Fatalf("unexpected %q while waiting for close", data)
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			c.t.Fatal("connection not closed in time")
		}
		return
	}
}

// waitChan receives from ch within the test timeout.
func waitChan[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
