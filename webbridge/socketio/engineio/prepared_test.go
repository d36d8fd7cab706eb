package engineio

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSharedBufferDeflatedOnce: a Buffer queued on several connections that
// negotiated permessage-deflate is compressed once (a prepared message) and
// every client reads it intact; one that does not deflate reads it too.
func TestSharedBufferDeflatedOnce(t *testing.T) {
	ts, conns := directServer(t, &Server{PingInterval: time.Hour, EnableCompression: true, QueueBytes: 1 << 20}, false)
	var wss []*websocket.Conn
	var cs []*Conn
	for _, compress := range []bool{true, true, false} {
		ws := dialDirect(t, ts, compress, false)
		defer ws.Close()
		readWS(t, ws) // open
		wss = append(wss, ws)
		cs = append(cs, <-conns)
	}
	msg := strings.Repeat("the same output for every socket ", 2000)
	b := NewTextBuffer()
	b.B = append(b.B, msg...)
	for range cs[1:] {
		b.Retain()
	}
	decided := 0
	worth := func(p []byte) bool { decided++; return true }
	first := b.prepared(worth)
	if first == nil || b.prepared(worth) != first || decided != 1 {
		t.Fatalf("prepared: decided %d times, want once", decided)
	}
	for _, c := range cs {
		if err := c.SendBuffers(b); err != nil {
			t.Fatal(err)
		}
	}
	for i, ws := range wss {
		if _, got := readWS(t, ws); got != "4"+msg {
			t.Errorf("client %d read %d bytes, want %d", i, len(got), len(msg)+1)
		}
	}
}
