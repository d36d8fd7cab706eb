package socketio

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Attachments are only held for a namespace the client has joined: before
// CONNECT a binary packet ends the connection (issue #13: 60 clients held
// 1.18 GiB of attachments without authenticating).
func TestBinaryBeforeConnectCloses(t *testing.T) {
	_, ts := echoServer(t, nil)
	c := dial(t, ts)
	c.send(`451-["message",{"_placeholder":true,"num":0}]`)
	c.sendBinary(bytes.Repeat([]byte{1}, 1000))
	c.expectClosed()
}

// One packet's attachments together are bounded by MaxPayload, not each.
func TestAttachmentsBeyondPayloadClose(t *testing.T) {
	_, ts := echoServer(t, &Server{MaxPayload: 1000})
	c := dial(t, ts)
	c.connect("/")
	c.read() // auth
	c.send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.sendBinary(bytes.Repeat([]byte{1}, 600))
	c.sendBinary(bytes.Repeat([]byte{2}, 600))
	c.expectClosed()
}

// dialStatus opens a websocket connection and reports the handshake's
// HTTP status (101 on success).
func dialStatus(t *testing.T, url string) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, resp, err := d.Dial(url, nil)
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	if ws != nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp.StatusCode
}

// Connections that have not joined a namespace are capped: past the cap
// the handshake is refused (websocket and polling alike), and a connection
// that joins or leaves frees its place.
func TestUnauthenticatedConnectionsCapped(t *testing.T) {
	srv, ts := echoServer(t, &Server{MaxUnauthenticated: 2})
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	a := dial(t, ts)
	b := dial(t, ts)
	if _, code := dialStatus(t, url); code != http.StatusServiceUnavailable {
		t.Fatalf("third unauthenticated websocket: status %d, want 503", code)
	}
	resp, err := http.Get(ts.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third unauthenticated polling handshake: status %d, want 503", resp.StatusCode)
	}
	if n := srv.ConnCount(); n != 2 {
		t.Fatalf("%d connections open, want the 2 admitted", n)
	}

	a.connect("/") // authenticated connections do not count
	if _, code := dialStatus(t, url); code != http.StatusSwitchingProtocols {
		t.Fatalf("after one joined: status %d, want 101", code)
	}
	b.ws.Close() // nor do closed ones, once the server has noticed
	deadline := time.Now().Add(testTimeout)
	for {
		ws, code := dialStatus(t, url)
		if code == http.StatusSwitchingProtocols {
			ws.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection still counts")
		}
		time.Sleep(time.Millisecond)
	}
}
