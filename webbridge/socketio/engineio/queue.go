package engineio

import (
	"context"
	"sync"
)

// outQueue is a connection's outbound queue: a bounded FIFO of data messages
// plus an unbounded priority lane for tiny control packets (ping, pong, noop),
// so a heartbeat never waits behind megabytes of output. It has a single
// consumer: the websocket writer goroutine or the pending polling GET.
type outQueue struct {
	mu      sync.Mutex
	ctrl    [][]byte
	data    []*Buffer
	head    int
	bytes   int
	limit   int
	closed  bool
	waiters int
	room    chan struct{} // closed and replaced when space frees up, if waiters > 0

	// wake has room for one token: producers never block on it and the
	// consumer re-checks the queue after every wake-up.
	wake chan struct{}
}

func newOutQueue(limit int) *outQueue {
	return &outQueue{limit: limit, wake: make(chan struct{}, 1), room: make(chan struct{})}
}

func (q *outQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pushCtrl queues a control packet in the priority lane.
func (q *outQueue) pushCtrl(p []byte) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.ctrl = append(q.ctrl, p)
	q.mu.Unlock()
	q.signal()
}

// tryPush queues bufs atomically (all or none), taking ownership of them.
// A batch larger than the whole bound is accepted into an empty queue, or
// it could never be sent.
func (q *outQueue) tryPush(bufs []*Buffer) error {
	q.mu.Lock()
	err := q.pushLocked(bufs)
	q.mu.Unlock()
	if err != nil {
		releaseAll(bufs)
		return err
	}
	q.signal()
	return nil
}

func (q *outQueue) pushLocked(bufs []*Buffer) error {
	if q.closed {
		return ErrClosed
	}
	n := 0
	for _, b := range bufs {
		n += b.size()
	}
	if q.bytes > 0 && q.bytes+n > q.limit {
		return ErrQueueFull
	}
	q.data = append(q.data, bufs...)
	q.bytes += n
	return nil
}

// push queues bufs, waiting for room until ctx is done or the queue closes.
func (q *outQueue) push(ctx context.Context, bufs []*Buffer) error {
	for {
		q.mu.Lock()
		err := q.pushLocked(bufs)
		if err != ErrQueueFull {
			q.mu.Unlock()
			if err != nil {
				releaseAll(bufs)
				return err
			}
			q.signal()
			return nil
		}
		q.waiters++
		room := q.room
		q.mu.Unlock()

		select {
		case <-room:
		case <-ctx.Done():
			q.mu.Lock()
			q.waiters--
			q.mu.Unlock()
			releaseAll(bufs)
			return ctx.Err()
		}
		q.mu.Lock()
		q.waiters--
		q.mu.Unlock()
	}
}

// popCtrl returns the oldest control packet, or nil.
func (q *outQueue) popCtrl() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ctrl) == 0 {
		return nil
	}
	p := q.ctrl[0]
	q.ctrl[0] = nil
	q.ctrl = q.ctrl[1:]
	if len(q.ctrl) == 0 {
		q.ctrl = q.ctrl[:0:0]
	}
	return p
}

// popData returns the oldest data message, or nil. The caller owns it.
func (q *outQueue) popData() *Buffer {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.popDataLocked()
}

func (q *outQueue) popDataLocked() *Buffer {
	if q.head == len(q.data) {
		return nil
	}
	b := q.data[q.head]
	q.data[q.head] = nil
	q.head++
	if q.head == len(q.data) {
		q.head, q.data = 0, q.data[:0]
	} else if q.head > 1024 && q.head*2 > len(q.data) {
		n := copy(q.data, q.data[q.head:])
		clear(q.data[n:])
		q.head, q.data = 0, q.data[:n]
	}
	q.bytes -= b.size()
	if q.waiters > 0 && !q.closed {
		close(q.room)
		q.room = make(chan struct{})
	}
	return b
}

// appendPayload moves queued packets, control first, into a polling payload
// of at most max bytes (at least one packet) and reports how many it took.
func (q *outQueue) appendPayload(dst []byte, max int) ([]byte, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	sep := func() {
		if n > 0 {
			dst = append(dst, recordSeparator)
		}
		n++
	}
	for _, p := range q.ctrl {
		sep()
		dst = appendPayloadRecord(dst, p, false)
	}
	clear(q.ctrl)
	q.ctrl = q.ctrl[:0]
	for q.head < len(q.data) {
		b := q.data[q.head]
		if n > 0 && len(dst)+b.size() > max {
			break
		}
		b = q.popDataLocked()
		sep()
		dst = appendPayloadRecord(dst, b.B, b.binary)
		b.Release()
	}
	return dst, n
}

// close makes further pushes fail and wakes everyone waiting for room.
func (q *outQueue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.room)
	}
	q.mu.Unlock()
	q.signal()
}

// discard drops everything still queued.
func (q *outQueue) discard() {
	q.mu.Lock()
	rest := q.data[q.head:]
	q.data, q.head, q.bytes, q.ctrl = nil, 0, 0, nil
	q.mu.Unlock()
	releaseAll(rest)
}

// queuedBytes reports the bytes of data messages waiting to be written.
func (q *outQueue) queuedBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

func releaseAll(bufs []*Buffer) {
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
}
