package engineio

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// The websocket writer takes several queued data messages at a time and
// writes those that go out uncompressed with one writev: gorilla writes
// every message with a syscall of its own, and with one session's output
// fanned out to many sockets those syscalls were a fifth of the server's
// CPU. The bound keeps what waits outside the queue (whose room is freed
// as messages are taken) small beside the queue's own 1 MiB; the frame
// count stays far below the kernel's 1024 iovecs.
const (
	batchBytes  = 128 << 10
	batchFrames = 64
)

// frameBatch is the writer's scratch space for one batch.
type frameBatch struct {
	bufs []*Buffer
	iov  net.Buffers
	hdrs []byte // the frame headers iov points into
	flat []byte // the batch in one piece, for a connection without writev
}

// writeBatch writes bufs in order, releasing them whatever happens: runs of
// messages that go out as they are in one write, one deflated (when the
// client negotiated it and it is worth it) through gorilla.
func (c *Conn) writeBatch(ws *websocket.Conn, fb *frameBatch, bufs []*Buffer, deflate bool) error {
	defer releaseAll(bufs)
	timeout := c.srv.cfg.writeTimeout
	fb.iov, fb.hdrs = fb.iov[:0], fb.hdrs[:0]
	for _, b := range bufs {
		if deflate {
			if pm, ok := c.compressed(b); ok {
				if err := fb.flush(ws.NetConn(), timeout); err != nil {
					return err
				}
				_ = ws.SetWriteDeadline(time.Now().Add(timeout))
				ws.EnableWriteCompression(true)
				var err error
				if pm != nil {
					err = ws.WritePreparedMessage(pm)
				} else {
					err = ws.WriteMessage(messageType(b), b.B)
				}
				if err != nil {
					return err
				}
				continue
			}
		}
		fb.add(b)
	}
	return fb.flush(ws.NetConn(), timeout)
}

// compressed reports whether b goes out deflated and, if it is queued on
// several connections, the message compressed once for all of them.
func (c *Conn) compressed(b *Buffer) (*websocket.PreparedMessage, bool) {
	if b.shared.Load() {
		pm := b.prepared(c.srv.worthDeflating)
		return pm, pm != nil
	}
	return nil, c.srv.worthDeflating(b.B)
}

func messageType(b *Buffer) int {
	if b.binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// add appends b's frame to the batch. The headers share one array, sized
// up front so that appending never moves those already in iov.
func (fb *frameBatch) add(b *Buffer) {
	if cap(fb.hdrs) < batchFrames*maxFrameHeader {
		fb.hdrs = make([]byte, 0, batchFrames*maxFrameHeader)
	}
	at := len(fb.hdrs)
	fb.hdrs = appendFrameHeader(fb.hdrs, b.binary, len(b.B))
	fb.iov = append(fb.iov, fb.hdrs[at:len(fb.hdrs):len(fb.hdrs)], b.B)
}

// flush writes the batch's frames with one call, so that a control frame
// gorilla's reader writes itself (the answer to a close) lands between
// frames, never inside one: the socket's write lock is held for the whole
// call. Without writev (not a TCP socket) the frames are copied into one
// piece first, for the same reason.
func (fb *frameBatch) flush(nc net.Conn, timeout time.Duration) error {
	if len(fb.iov) == 0 {
		return nil
	}
	_ = nc.SetWriteDeadline(time.Now().Add(timeout))
	var err error
	if tc, ok := nc.(*net.TCPConn); ok {
		iov := fb.iov // WriteTo consumes its receiver
		_, err = iov.WriteTo(tc)
	} else {
		fb.flat = fb.flat[:0]
		for _, p := range fb.iov {
			fb.flat = append(fb.flat, p...)
		}
		_, err = nc.Write(fb.flat)
		if cap(fb.flat) > batchBytes+batchFrames*maxFrameHeader {
			fb.flat = nil
		}
	}
	clear(fb.iov) // no references to released buffers
	fb.iov, fb.hdrs = fb.iov[:0], fb.hdrs[:0]
	return err
}

// maxFrameHeader is the longest header of an unmasked frame.
const maxFrameHeader = 10

// appendFrameHeader appends the header of an unmasked, final, uncompressed
// websocket frame (server to client) with a payload of n bytes.
func appendFrameHeader(dst []byte, binaryFrame bool, n int) []byte {
	op := byte(0x81) // FIN, text
	if binaryFrame {
		op = 0x82
	}
	dst = append(dst, op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}
