package engineio

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func textBuf(s string) *Buffer {
	b := NewTextBuffer()
	b.B = append(b.B, s...)
	return b
}

func TestQueueBound(t *testing.T) {
	q := newOutQueue(10)
	if err := q.tryPush([]*Buffer{textBuf("1234567")}); err != nil { // 8 bytes with the type
		t.Fatal(err)
	}
	if err := q.tryPush([]*Buffer{textBuf("abc")}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("second push: %v, want ErrQueueFull", err)
	}
	if q.queuedBytes() != 8 {
		t.Fatalf("queued %d bytes, want 8", q.queuedBytes())
	}
	// An oversized message still goes through an empty queue.
	q2 := newOutQueue(4)
	if err := q2.tryPush([]*Buffer{textBuf("much too long")}); err != nil {
		t.Fatalf("oversized push into empty queue: %v", err)
	}
}

func TestQueueControlFirst(t *testing.T) {
	q := newOutQueue(1 << 20)
	for i := 0; i < 3; i++ {
		if err := q.tryPush([]*Buffer{textBuf("bulk")}); err != nil {
			t.Fatal(err)
		}
	}
	q.pushCtrl(pingPacket)
	if p := q.popCtrl(); string(p) != "2" {
		t.Fatalf("popCtrl = %q, want the ping ahead of bulk data", p)
	}
	payload, n := q.appendPayload(nil, 1<<20)
	if n != 3 || string(payload) != "4bulk\x1e4bulk\x1e4bulk" {
		t.Fatalf("payload %q (%d)", payload, n)
	}
}

func TestQueuePayloadPingFirst(t *testing.T) {
	q := newOutQueue(1 << 20)
	_ = q.tryPush([]*Buffer{textBuf("x")})
	q.pushCtrl(pingPacket)
	payload, _ := q.appendPayload(nil, 1<<20)
	if string(payload) != "2\x1e4x" {
		t.Fatalf("payload %q, want the ping first", payload)
	}
}

func TestQueueAtomicBatch(t *testing.T) {
	q := newOutQueue(10)
	_ = q.tryPush([]*Buffer{textBuf("12345")})
	if err := q.tryPush([]*Buffer{textBuf("1"), textBuf("2"), textBuf("3")}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("batch: %v, want ErrQueueFull", err)
	}
	if q.queuedBytes() != 6 {
		t.Fatalf("partial batch queued: %d bytes", q.queuedBytes())
	}
}

func TestQueuePushWaits(t *testing.T) {
	q := newOutQueue(10)
	_ = q.tryPush([]*Buffer{textBuf("123456789")})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := q.push(ctx, []*Buffer{textBuf("x")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("push on full queue: %v, want deadline exceeded", err)
	}

	done := make(chan error, 1)
	go func() { done <- q.push(context.Background(), []*Buffer{textBuf("x")}) }()
	// Wait until the pusher is parked, then make room.
	eventually(t, "pusher waiting", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.room != nil // made by the waiting pusher
	})
	releaseAll(q.popDataBatch(nil, 1, 1))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("push did not resume after room was freed")
	}

	go func() { done <- q.push(context.Background(), []*Buffer{textBuf("123456789")}) }()
	eventually(t, "pusher waiting", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.room != nil // made by the waiting pusher
	})
	q.close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close: %v, want ErrClosed", err)
	}
	q.discard()
}

// TestQueueBatch: a batch takes the oldest messages in order, at least one
// however large, and no more than its bound in bytes or messages; what it
// took is room for waiting producers at once.
func TestQueueBatch(t *testing.T) {
	q := newOutQueue(1 << 20)
	for _, s := range []string{"a", "bb", "ccc", strings.Repeat("d", 100), "e"} {
		if err := q.tryPush([]*Buffer{textBuf(s)}); err != nil {
			t.Fatal(err)
		}
	}
	got := func(bufs []*Buffer) string {
		var parts []string
		for _, b := range bufs {
			parts = append(parts, string(b.B))
		}
		releaseAll(bufs)
		return strings.Join(parts, " ")
	}
	if b := got(q.popDataBatch(nil, 7, 10)); b != "4a 4bb" { // 2+3 bytes, 4ccc would make 9
		t.Fatalf("batch %q, want 4a 4bb", b)
	}
	if b := got(q.popDataBatch(nil, 1<<20, 1)); b != "4ccc" {
		t.Fatalf("batch %q, want 4ccc (one message)", b)
	}
	if b := got(q.popDataBatch(nil, 10, 10)); len(b) != 101 {
		t.Fatalf("batch %q, want the 101-byte message alone", b)
	}
	if q.queuedBytes() != 2 {
		t.Fatalf("queued %d bytes, want 2", q.queuedBytes())
	}
	if b := got(q.popDataBatch(nil, 10, 10)); b != "4e" {
		t.Fatalf("batch %q, want 4e", b)
	}
	if bufs := q.popDataBatch(nil, 10, 10); len(bufs) != 0 {
		t.Fatalf("batch from an empty queue: %d messages", len(bufs))
	}
}

// TestQueueWriterHandOff: a websocket writer is started for what is queued
// when none runs, never a second one while it runs, and it may leave only
// with nothing queued; a closing queue always gets one (for the close
// frame).
func TestQueueWriterHandOff(t *testing.T) {
	q := newOutQueue(1 << 20)
	starts := make(chan struct{}, 10)
	// started waits for want writers to start; one more that started too
	// would most likely be there by then.
	started := func() int {
		t.Helper()
		n := 0
		select {
		case <-starts:
			n++
		case <-time.After(testTimeout):
			return 0
		}
		for {
			select {
			case <-starts:
				n++
			default:
				return n
			}
		}
	}
	none := func() bool {
		select {
		case <-starts:
			return false
		default:
			return true
		}
	}
	q.setWriter(func() { starts <- struct{}{} })
	if !none() {
		t.Fatal("a writer for an empty queue")
	}
	for range 3 {
		if err := q.tryPush([]*Buffer{textBuf("a")}); err != nil {
			t.Fatal(err)
		}
	}
	q.pushCtrl(pingPacket)
	if n := started(); n != 1 {
		t.Fatalf("%d writers started for four messages, want 1", n)
	}
	if q.park() {
		t.Fatal("the writer left with messages queued")
	}
	if q.popCtrl() == nil {
		t.Fatal("no ping")
	}
	releaseAll(q.popDataBatch(nil, 1<<20, 10))
	if !q.park() {
		t.Fatal("the writer could not leave an empty queue")
	}
	q.pushRaw([]byte("frame end"))
	if n := started(); n != 1 {
		t.Fatalf("%d writers started for a raw frame, want 1", n)
	}
	if q.popRaw() == nil || !q.park() {
		t.Fatal("raw frame not taken, or the writer could not leave")
	}
	q.close()
	if n := started(); n != 1 {
		t.Fatalf("%d writers started to close, want 1", n)
	}
	if q.park() {
		t.Fatal("the writer left a closing queue")
	}
	q.discard()
}
