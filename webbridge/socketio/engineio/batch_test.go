package engineio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// batchMessages is a backlog of text and binary messages of every header
// size (7-bit, 16-bit and 64-bit lengths), each naming its place.
func batchMessages() []*Buffer {
	var bufs []*Buffer
	for i := range 200 {
		var b *Buffer
		if i%5 == 0 {
			b = NewBinaryBuffer()
		} else {
			b = NewTextBuffer()
		}
		b.B = fmt.Appendf(b.B, "%d:", i)
		switch {
		case i%40 == 2:
			b.B = append(b.B, strings.Repeat("L", 70<<10+i)...) // past 64 KiB
		case i%14 == 3:
			b.B = append(b.B, strings.Repeat("k", 16<<10)...) // deflate probes it
		case i%3 == 1:
			b.B = append(b.B, strings.Repeat("m", 300+i)...)
		}
		bufs = append(bufs, b)
	}
	return bufs
}

// readBacklog reads want's messages off ws, in order and byte for byte;
// Engine.IO pings in between are answered and counted.
func readBacklog(t *testing.T, ws *websocket.Conn, want []string, binary []bool) (pings int) {
	t.Helper()
	for i := 0; i < len(want); {
		mt, msg := readWS(t, ws)
		if mt == websocket.TextMessage && msg == "2" {
			pings++
			writeWS(t, ws, websocket.TextMessage, "3")
			continue
		}
		if msg != want[i] || (mt == websocket.BinaryMessage) != binary[i] {
			t.Fatalf("message %d: got %d bytes %.30q (type %d), want %d bytes %.30q", i, len(msg), msg, mt, len(want[i]), want[i])
		}
		i++
	}
	return pings
}

func expected(bufs []*Buffer) ([]string, []bool) {
	want := make([]string, len(bufs))
	binary := make([]bool, len(bufs))
	for i, b := range bufs {
		want[i], binary[i] = string(b.B), b.binary
	}
	return want, binary
}

// openBacklog opens a websocket on srv, with small socket buffers so that
// the writer falls behind and takes batches, and returns batchMessages and
// what the client must read of them.
func openBacklog(t *testing.T, srv *Server, compress bool) (*websocket.Conn, *Conn, []*Buffer, []string, []bool) {
	t.Helper()
	ts, conns := directServer(t, srv, true)
	ws := dialDirect(t, ts, compress, true)
	c := <-conns
	readWS(t, ws) // open
	bufs := batchMessages()
	want, binary := expected(bufs)
	return ws, c, bufs, want, binary
}

// backlog is openBacklog with the messages fed from another goroutine.
func backlog(t *testing.T, srv *Server, compress bool) (*websocket.Conn, *Conn, []string, []bool) {
	t.Helper()
	ws, c, bufs, want, binary := openBacklog(t, srv, compress)
	go func() {
		for _, b := range bufs {
			if c.SendBuffersContext(context.Background(), b) != nil {
				return // closed: the reader says what is missing
			}
		}
	}()
	return ws, c, want, binary
}

// TestBatchOrderAndCompleteness: a backlog that the writer takes in batches
// (written with writev) arrives whole and in order, while Engine.IO pings
// and websocket pongs go out between the batches.
func TestBatchOrderAndCompleteness(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("deflate=%v", compress), func(t *testing.T) {
			srv := &Server{PingInterval: 5 * time.Millisecond, PingTimeout: time.Hour, QueueBytes: 256 << 10, EnableCompression: compress}
			ws, _, want, binary := backlog(t, srv, compress)
			var pongs atomic.Int32
			ws.SetPongHandler(func(string) error { pongs.Add(1); return nil })
			// Pings from the client while the backlog flows: their pongs
			// must come as frames of their own, between the data frames.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
					if ws.WriteControl(websocket.PingMessage, []byte(fmt.Sprint(i)), time.Now().Add(testTimeout)) != nil {
						return
					}
				}
			}()
			pings := readBacklog(t, ws, want, binary)
			close(stop)
			wg.Wait()
			t.Logf("%d Engine.IO pings and %d pongs among the data", pings, pongs.Load())
		})
	}
}

// TestBatchOneWrite: messages queued together go out in one write, not one
// each (on a connection that is not a TCP socket, the batch is copied into
// one piece).
func TestBatchOneWrite(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, PingTimeout: time.Hour}
	conns := make(chan *Conn, 1)
	srv.OnConnection = func(c *Conn) { conns <- c }
	ts := httptest.NewUnstartedServer(srv)
	var writes atomic.Int64
	ts.Listener = countingListener{ts.Listener, &writes}
	ts.Start()
	t.Cleanup(func() { srv.Close(); ts.Close() })
	ws := dialWS(t, wsURL(ts, ""))
	c := <-conns
	readWS(t, ws) // open

	const n = 10
	var bufs []*Buffer
	var want []string
	for i := range n {
		bufs = append(bufs, textBuf(fmt.Sprintf("message %d", i)))
		want = append(want, string(bufs[i].B))
	}
	before := writes.Load()
	if err := c.SendBuffers(bufs...); err != nil { // queued at once
		t.Fatal(err)
	}
	readBacklog(t, ws, want, make([]bool, n))
	if w := writes.Load() - before; w != 1 {
		t.Fatalf("%d messages queued together took %d writes, want 1", n, w)
	}
}

type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingWriter{c, l.writes}, nil
}

type countingWriter struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestBatchClientCloses: a client that closes while a backlog flows gets
// whole data frames, then the answer to its close, never a frame cut by it
// (gorilla's reader writes that answer itself, beside the batches).
func TestBatchClientCloses(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, PingTimeout: time.Hour, QueueBytes: 256 << 10}
	ws, c, want, binary := backlog(t, srv, false)
	readBacklog(t, ws, want[:20], binary[:20]) // well into the backlog
	if err := ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	for i := 20; ; i++ {
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
				t.Fatalf("after %d messages: %v, want the close answered", i, err)
			}
			break
		}
		if i >= len(want) || !bytes.Equal([]byte(msg), []byte(want[i])) || (mt == websocket.BinaryMessage) != binary[i] {
			t.Fatalf("message %d mangled: %d bytes %.30q", i, len(msg), msg)
		}
	}
	select {
	case <-c.Done():
	case <-time.After(testTimeout):
		t.Fatal("connection still open after the client's close")
	}
}

// TestBatchServerCloses: Close while a backlog is queued flushes all of it,
// whole and in order, then the close frame.
func TestBatchServerCloses(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, PingTimeout: time.Hour, QueueBytes: 8 << 20}
	ws, c, bufs, want, binary := openBacklog(t, srv, false)
	if err := c.SendBuffers(bufs...); err != nil {
		t.Fatal(err)
	}
	readBacklog(t, ws, want[:5], binary[:5]) // the writer is at work
	c.Close()
	readBacklog(t, ws, want[5:], binary[5:])
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	_, msg, err := ws.ReadMessage()
	if err == nil && string(msg) == "1" { // the Engine.IO close packet
		_, _, err = ws.ReadMessage()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("after the backlog: %v, want a normal close", err)
	}
}

// TestBatchPollingUnchanged: a polling client gets a backlog as before,
// whole and in order, in payloads of at most one GET each.
func TestBatchPollingUnchanged(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, PingTimeout: time.Hour, QueueBytes: 8 << 20}
	conns := make(chan *Conn, 1)
	srv.OnConnection = func(c *Conn) { conns <- c }
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	sid := openPolling(t, ts)
	c := <-conns
	var want []string
	for i := range 300 {
		want = append(want, fmt.Sprintf("%d:%s", i, strings.Repeat("p", i*37%5000)))
		if err := c.Send(Message{Data: []byte(want[i])}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < len(want) {
		code, body := httpDo(t, "GET", pollURL(ts, sid), "")
		if code != 200 {
			t.Fatalf("GET: %d %s", code, body)
		}
		for _, p := range strings.Split(body, "\x1e") {
			if !strings.HasPrefix(p, "4") {
				t.Fatalf("packet %.20q, want a message", p)
			}
			got = append(got, p[1:])
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("polling backlog differs: %d messages", len(got))
	}
}
