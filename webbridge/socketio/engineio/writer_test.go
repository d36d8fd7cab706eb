package engineio

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// goroutinesIn counts the goroutines with fn on their stack.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Count(string(buf), fn+"(")
}

const writeLoopFn = "engineio.(*Conn).writeLoop"

// An idle websocket connection keeps no writer goroutine: one is started
// when something is queued and leaves once the queue stays empty. Only the
// reader is left per connection.
func TestIdleWebSocketHasNoWriter(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, writerGrace: 10 * time.Millisecond}
	ts, conns := directServer(t, srv, false)
	const n = 20
	wss := make([]*websocket.Conn, n)
	for i := range wss {
		wss[i] = dialDirect(t, ts, false, false)
		<-conns
		readWS(t, wss[i]) // open
	}
	eventually(t, "idle writers to leave", func() bool { return goroutinesIn(writeLoopFn) == 0 })
	if got := goroutinesIn("engineio.(*Conn).readLoop"); got != n {
		t.Fatalf("%d readers for %d connections", got, n)
	}
	// Still served: a message is echoed (directly or through a writer
	// started for it), and the writer leaves again.
	for _, ws := range wss {
		writeWS(t, ws, websocket.TextMessage, "4"+strings.Repeat("e", 2*directMax))
		if _, msg := readWS(t, ws); msg != "4"+strings.Repeat("e", 2*directMax) {
			t.Fatalf("echo %.20q", msg)
		}
	}
	eventually(t, "writers to leave again", func() bool { return goroutinesIn(writeLoopFn) == 0 })
}

// Heartbeats of an idle connection start a writer each time; the
// connection lives through many of them and its writer does not stay.
func TestIdlePingsStartWriter(t *testing.T) {
	srv := &Server{PingInterval: 30 * time.Millisecond, PingTimeout: time.Second, writerGrace: time.Millisecond}
	ts, conns := directServer(t, srv, false)
	ws := dialDirect(t, ts, false, false)
	c := <-conns
	readWS(t, ws)
	for range 5 {
		if _, msg := readWS(t, ws); msg != "2" {
			t.Fatalf("got %q, want a ping", msg)
		}
		writeWS(t, ws, websocket.TextMessage, "3")
	}
	eventually(t, "the writer to leave", func() bool { return goroutinesIn(writeLoopFn) == 0 })
	if r := c.Reason(); r != "" {
		t.Fatalf("closed: %s", r)
	}
}

// Bursts separated by pauses longer than the writer's grace, from several
// producers, through direct writes and the queue, with and without
// deflate: every message arrives once, each producer's in order. The
// writer comes and goes many times meanwhile; a second writer would panic
// in enterWriter (and the race detector sees the frame scratch).
func TestOnDemandWriterOrder(t *testing.T) {
	for _, tc := range []struct {
		deflate         bool
		producers, each int
	}{{false, 4, 200}, {true, 4, 200}, {false, 1, 600}, {true, 1, 600}} {
		t.Run(fmt.Sprintf("deflate=%v/producers=%d", tc.deflate, tc.producers), func(t *testing.T) {
			srv := &Server{PingInterval: 5 * time.Millisecond, PingTimeout: testTimeout,
				EnableCompression: true, writerGrace: 20 * time.Microsecond, QueueBytes: 64 << 10}
			ts, conns := directServer(t, srv, false)
			ws := dialDirect(t, ts, tc.deflate, false)
			conn := <-conns
			readWS(t, ws)
			produceInOrder(t, conn, ws, tc.producers, tc.each, func(rnd *rand.Rand) string {
				switch rnd.IntN(4) {
				case 0:
					return strings.Repeat("p", directMax+rnd.IntN(24<<10)) // queued, maybe bulk
				case 1, 2:
					time.Sleep(time.Duration(rnd.IntN(500)) * time.Microsecond) // the writer may leave
				}
				return ""
			})
			if r := conn.Reason(); r != "" {
				t.Fatalf("closed: %s", r)
			}
		})
	}
}

// Close on an idle connection (no writer) still flushes nothing lost and
// ends with a close frame; Close right after queueing a lot flushes all of
// it first. Either way the server lets go of everything (srv.Close waits
// for it, leakcheck counts the goroutines).
func TestOnDemandWriterClose(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			srv := &Server{PingInterval: time.Hour, writerGrace: time.Millisecond}
			ts, conns := directServer(t, srv, false)
			ws := dialDirect(t, ts, false, false)
			conn := <-conns
			readWS(t, ws)
			eventually(t, "the writer to leave", func() bool { return goroutinesIn(writeLoopFn) == 0 })
			const msgs = 64
			if busy {
				for i := range msgs {
					if err := conn.Send(Message{Data: []byte(fmt.Sprintf("%d:%s", i, strings.Repeat("b", 8<<10)))}); err != nil {
						t.Fatal(err)
					}
				}
			}
			_ = conn.Close()
			if busy {
				for i := range msgs {
					_, msg := readWS(t, ws)
					if !strings.HasPrefix(msg, fmt.Sprintf("4%d:", i)) {
						t.Fatalf("message %d: %.20q", i, msg)
					}
				}
			}
			_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
			_, _, err := ws.ReadMessage()
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("got %v, want a normal close frame", err)
			}
			eventually(t, "the writer to end", func() bool { return goroutinesIn(writeLoopFn) == 0 })
		})
	}
}

// A client that closes an idle connection: the server answers, closes its
// side and reports the close; its reader and writer end.
func TestOnDemandWriterClientClose(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, writerGrace: time.Millisecond}
	ts, conns := directServer(t, srv, false)
	for _, how := range []string{"close packet", "close frame"} {
		ws := dialDirect(t, ts, false, false)
		conn := <-conns
		readWS(t, ws)
		eventually(t, "the writer to leave", func() bool { return goroutinesIn(writeLoopFn) == 0 })
		if how == "close packet" {
			writeWS(t, ws, websocket.TextMessage, "1")
		} else {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(testTimeout))
		}
		select {
		case <-conn.Done():
		case <-time.After(testTimeout):
			t.Fatalf("%s: not closed", how)
		}
		if r := conn.Reason(); r != ReasonTransportClose {
			t.Fatalf("%s: reason %q", how, r)
		}
		if how == "close packet" {
			expectClosed(t, ws)
		}
		eventually(t, how+": reader and writer to end", func() bool {
			return goroutinesIn(writeLoopFn) == 0 && goroutinesIn("engineio.(*Conn).readLoop") == 0
		})
	}
}
