package engineio

import (
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Buffer is a pooled, reference-counted outbound message in wire form. It
// lets a producer encode straight into the bytes the writer will send and
// lets one encoded message be queued on many connections (room broadcasts)
// without copying.
//
// A text Buffer starts with the Engine.IO message type '4'; append the
// message after it. A binary Buffer holds the raw bytes.
type Buffer struct {
	// B holds the wire bytes. Append to it; do not keep references after
	// handing the Buffer to a connection.
	B      []byte
	binary bool
	refs   atomic.Int32

	// A Buffer queued on several connections (Retain) is compressed once
	// for all those that negotiated permessage-deflate, as a prepared
	// message: deflating is the costliest step on the way, and a terminal's
	// output goes to every socket attached to it.
	shared   atomic.Bool
	prepMu   sync.Mutex
	prepDone bool
	prep     *websocket.PreparedMessage // nil when not worth deflating
}

// maxPooledBuffer keeps rare huge messages from pinning memory in the pool.
const maxPooledBuffer = 256 << 10

// bufferPool is a cache of free buffers, not shared state: any Buffer taken
// from it is exclusively owned until released.
var bufferPool = sync.Pool{New: func() any { return &Buffer{B: make([]byte, 0, 1024)} }}

// NewTextBuffer returns a Buffer holding the prefix of an Engine.IO text
// message, with one reference owned by the caller.
func NewTextBuffer() *Buffer {
	b := bufferPool.Get().(*Buffer)
	b.B = append(b.B[:0], typeMessage)
	b.binary = false
	b.reset()
	return b
}

// NewBinaryBuffer returns an empty Buffer for a binary message, with one
// reference owned by the caller.
func NewBinaryBuffer() *Buffer {
	b := bufferPool.Get().(*Buffer)
	b.B = b.B[:0]
	b.binary = true
	b.reset()
	return b
}

// Binary reports whether b is a binary message.
func (b *Buffer) Binary() bool { return b.binary }

func (b *Buffer) reset() {
	b.refs.Store(1)
	b.shared.Store(false)
	b.prepDone, b.prep = false, nil
}

// Retain adds a reference, for queueing the same Buffer on another
// connection.
func (b *Buffer) Retain() {
	b.refs.Add(1)
	b.shared.Store(true)
}

// prepared returns the buffer as a message compressed once for every
// connection that sends it, or nil if worth says it is not worth deflating
// (then it goes out as it is).
func (b *Buffer) prepared(worth func([]byte) bool) *websocket.PreparedMessage {
	b.prepMu.Lock()
	defer b.prepMu.Unlock()
	if !b.prepDone {
		b.prepDone = true
		if worth(b.B) {
			mt := websocket.TextMessage
			if b.binary {
				mt = websocket.BinaryMessage
			}
			b.prep, _ = websocket.NewPreparedMessage(mt, b.B) // fails only for a bad type
		}
	}
	return b.prep
}

// Release drops a reference; the last one returns b to the pool.
func (b *Buffer) Release() {
	switch n := b.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("engineio: Buffer released more often than retained")
	}
	b.prep = nil // it holds b.B and its compressed frame
	if cap(b.B) <= maxPooledBuffer {
		bufferPool.Put(b)
	}
}

// size is what the buffer counts against a connection's queue bound.
func (b *Buffer) size() int { return len(b.B) }
