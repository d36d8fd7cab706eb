package engineio

import (
	"context"
	"sync"
)

// outQueue is a connection's outbound queue: a bounded FIFO of data messages
// plus an unbounded priority lane for tiny control packets (ping, pong, noop),
// so a heartbeat never waits behind megabytes of output. It has a single
// consumer: the websocket writer goroutine or the pending polling GET.
//
// On websocket the writer goroutine runs only while there is something to
// write: an idle connection (most of a server's, most of the time) would
// otherwise keep a parked goroutine and its stack for nothing. Whoever
// queues into a queue without a writer starts one (spawn); the writer
// leaves (park) only when it finds the queue empty under mu, so nothing
// queued is ever left without a writer and there is never more than one.
type outQueue struct {
	mu      sync.Mutex
	raw     [][]byte // websocket frames to write as they are, before anything else
	ctrl    [][]byte
	data    []*Buffer
	head    int
	bytes   int
	limit   int
	closed  bool
	room    chan struct{} // made by the first waiter, closed when space frees up
	spawn   func()        // starts the websocket writer; nil before (and without) one
	running bool          // the websocket writer runs, or has been started

	// wake has room for one token: producers never block on it and the
	// consumer re-checks the queue after every wake-up.
	wake chan struct{}
}

func newOutQueue(limit int) *outQueue {
	return &outQueue{limit: limit, wake: make(chan struct{}, 1)}
}

func (q *outQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// claimLocked returns the writer to start for what was just queued, if
// the websocket writer is not running; the caller starts it with notify.
func (q *outQueue) claimLocked() func() {
	if q.spawn == nil || q.running {
		return nil
	}
	q.running = true
	return q.spawn
}

// notify tells the consumer that something was queued: it starts the
// writer claimed by claimLocked, or wakes the one that runs.
func (q *outQueue) notify(start func()) {
	if start != nil {
		go start()
		return
	}
	q.signal()
}

// setWriter hands the queue to a websocket writer started by spawn, from
// now on only while there is something to write. It starts one at once if
// something is queued already (the open packet) or the queue is closed
// (the writer writes the close frame and closes the socket).
func (q *outQueue) setWriter(spawn func()) {
	q.mu.Lock()
	q.spawn = spawn
	start := q.claimLocked()
	if start != nil && !q.closed && q.emptyLocked() {
		q.running, start = false, nil
	}
	q.mu.Unlock()
	q.notify(start)
}

// park lets the writer go when nothing is left for it to do; false means
// it must carry on (something came, or the queue is closing).
func (q *outQueue) park() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !q.emptyLocked() {
		return false
	}
	q.running = false
	return true
}

func (q *outQueue) emptyLocked() bool {
	return len(q.raw) == 0 && len(q.ctrl) == 0 && q.head == len(q.data)
}

// pushCtrl queues a control packet in the priority lane.
func (q *outQueue) pushCtrl(p []byte) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.ctrl = append(q.ctrl, p)
	start := q.claimLocked()
	q.mu.Unlock()
	q.notify(start)
}

// tryPush queues bufs atomically (all or none), taking ownership of them.
// A batch larger than the whole bound is accepted into an empty queue, or
// it could never be sent.
func (q *outQueue) tryPush(bufs []*Buffer) error {
	q.mu.Lock()
	err := q.pushLocked(bufs)
	var start func()
	if err == nil {
		start = q.claimLocked()
	}
	q.mu.Unlock()
	if err != nil {
		releaseAll(bufs)
		return err
	}
	q.notify(start)
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
			var start func()
			if err == nil {
				start = q.claimLocked()
			}
			q.mu.Unlock()
			if err != nil {
				releaseAll(bufs)
				return err
			}
			q.notify(start)
			return nil
		}
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()

		select {
		case <-room:
		case <-ctx.Done():
			releaseAll(bufs)
			return ctx.Err()
		}
	}
}

// idle reports whether nothing is queued (and the queue is open).
func (q *outQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.closed && q.emptyLocked()
}

// pushRaw queues a websocket frame (or the unwritten end of one) for the
// writer to write first, as it is.
func (q *outQueue) pushRaw(p []byte) {
	q.mu.Lock()
	var start func()
	if !q.closed {
		q.raw = append(q.raw, append([]byte(nil), p...))
		start = q.claimLocked()
	}
	q.mu.Unlock()
	q.notify(start)
}

// popRaw returns the oldest raw frame, or nil.
func (q *outQueue) popRaw() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return popFront(&q.raw)
}

// popCtrl returns the oldest control packet, or nil.
func (q *outQueue) popCtrl() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return popFront(&q.ctrl)
}

// popFront removes and returns the first of lane, or nil.
func popFront(lane *[][]byte) []byte {
	l := *lane
	if len(l) == 0 {
		return nil
	}
	p := l[0]
	l[0] = nil
	if len(l) == 1 {
		l = l[:0:0] // let the backing array go
	} else {
		l = l[1:]
	}
	*lane = l
	return p
}

// popDataBatch appends to dst the oldest data messages, in order, as long
// as they add up to at most max bytes (always at least one if any is
// queued). The caller owns them. Their room in the queue is freed at once,
// so what waits outside the queue's bound is at most max bytes.
func (q *outQueue) popDataBatch(dst []*Buffer, max, maxN int) []*Buffer {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for len(dst) < maxN && q.head < len(q.data) {
		size := q.data[q.head].size()
		if n > 0 && n+size > max {
			break
		}
		n += size
		dst = append(dst, q.popDataLocked())
	}
	return dst
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
	if q.room != nil && !q.closed {
		close(q.room)
		q.room = nil
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
	var start func()
	if !q.closed {
		q.closed = true
		if q.room != nil {
			close(q.room)
			q.room = nil
		}
		start = q.claimLocked() // the writer writes the close frame
	}
	q.mu.Unlock()
	q.notify(start)
}

// discard drops everything still queued.
func (q *outQueue) discard() {
	q.mu.Lock()
	rest := q.data[q.head:]
	q.data, q.head, q.bytes, q.ctrl, q.raw = nil, 0, 0, nil, nil
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
