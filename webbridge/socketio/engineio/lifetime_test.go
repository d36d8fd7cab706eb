package engineio

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// fill queues 4 KiB messages on c until its queue refuses more, and returns
// the most bytes it saw queued.
func fill(t *testing.T, c *Conn) int {
	t.Helper()
	msg := Message{Data: bytes.Repeat([]byte("x"), 4<<10)}
	peak := 0
	for i := 0; i < 10_000; i++ {
		err := c.Send(msg)
		peak = max(peak, c.QueuedBytes())
		if errors.Is(err, ErrQueueFull) || errors.Is(err, ErrClosed) {
			return peak
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the queue never filled")
	return 0
}

// A polling client that vanishes between polls, without a close packet, is
// released once PollGrace passes without its next GET, long before the ping
// would time out, and its queued output goes with it.
func TestPollingVanishedClientReleased(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, PingTimeout: time.Hour, PollGrace: 100 * time.Millisecond, QueueBytes: 256 << 10}
	ts, conns := directServer(t, srv, false)
	sid := openPolling(t, ts)
	c := <-conns
	if peak := fill(t, c); peak == 0 || peak > 256<<10 {
		t.Fatalf("queued %d bytes, bound %d", peak, 256<<10)
	}
	select {
	case <-c.Done():
	case <-time.After(testTimeout):
		t.Fatal("a vanished polling client is still connected")
	}
	if r := c.Reason(); r != ReasonPollTimeout {
		t.Fatalf("reason %q, want %q", r, ReasonPollTimeout)
	}
	if n := c.QueuedBytes(); n != 0 {
		t.Fatalf("%d bytes still queued for a released client", n)
	}
	if code, _ := httpDo(t, "GET", pollURL(ts, sid), ""); code != 400 {
		t.Fatalf("a late poll got %d, want 400 (unknown session)", code)
	}
}

// A client that keeps polling is never taken for vanished, even when it
// polls for longer than the grace in all.
func TestPollingActiveClientKept(t *testing.T) {
	srv := &Server{PingInterval: time.Hour, PingTimeout: time.Hour, PollGrace: 50 * time.Millisecond}
	_, ts := newEchoServer(t, srv)
	sid := openPolling(t, ts)
	for i := 0; i < 20; i++ {
		if code, _ := httpDo(t, "POST", pollURL(ts, sid), "4hello"); code != 200 {
			t.Fatalf("post %d: %d", i, code)
		}
		if code, body := httpDo(t, "GET", pollURL(ts, sid), ""); code != 200 || body != "4hello" {
			t.Fatalf("poll %d: %d %q", i, code, body)
		}
		time.Sleep(10 * time.Millisecond) // the client's turnaround, within the grace
	}
}

// A websocket client that never reads holds at most its queue bound, and is
// dropped (queue freed) once a write has been stuck for WriteTimeout.
func TestWebSocketNonReaderBounded(t *testing.T) {
	const bound = 64 << 10
	srv := &Server{PingInterval: time.Hour, PingTimeout: time.Hour, QueueBytes: bound, WriteTimeout: 200 * time.Millisecond}
	ts, conns := directServer(t, srv, true)
	_ = dialDirect(t, ts, false, true) // never read
	c := <-conns
	peak := 0
	for !c.isClosed() {
		peak = max(peak, fill(t, c))
		if peak > bound {
			t.Fatalf("queued %d bytes, bound %d", peak, bound)
		}
		select {
		case <-c.Done():
		case <-time.After(10 * time.Millisecond): // let the writer fill the socket
		}
	}
	t.Logf("peak queued %d bytes (bound %d)", peak, bound)
	select {
	case <-c.Done():
	case <-time.After(testTimeout):
		t.Fatal("a websocket client that never reads is still connected")
	}
	if r := c.Reason(); r != ReasonTransportError {
		t.Fatalf("reason %q, want %q", r, ReasonTransportError)
	}
	eventually(t, "the queue freed", func() bool { return c.QueuedBytes() == 0 })
}
