package engineio

import (
	"context"
	"errors"
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
		return q.waiters == 1
	})
	q.popData().Release()
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
		return q.waiters == 1
	})
	q.close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close: %v, want ErrClosed", err)
	}
	q.discard()
}
