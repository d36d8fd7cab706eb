package sshd

import (
	"bytes"
	"io"
)

// feed reads r in its own goroutine and hands out the chunks, so that readers
// can take turns on one input stream: a reader stopped while blocked gives up
// without consuming a chunk, and the next reader gets it.
func feed(r io.Reader) <-chan []byte {
	ch := make(chan []byte)
	go func() {
		defer close(ch)
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				// A copy of its size: a keystroke must not cost 32 KiB
				// of garbage.
				ch <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// chanReader reads chunks from a feed until the feed ends or stop is closed.
type chanReader struct {
	ch   <-chan []byte
	stop <-chan struct{} // nil: never stopped
	rest []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		// Stopped first: a select with both ready picks at random, and a
		// stopped reader must never take a chunk meant for the next one.
		select {
		case <-r.stop:
			return 0, io.EOF
		default:
		}
		select {
		case b, ok := <-r.ch:
			if !ok {
				return 0, io.EOF
			}
			r.rest = b
		case <-r.stop:
			return 0, io.EOF
		}
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}
