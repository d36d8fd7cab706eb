package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// leavingReader reads an attachment made with LeaveAfter as a front-end
// does: its reader goroutine ends on ErrIdle and Wake starts the next.
type leavingReader struct {
	t       *testing.T
	a       *Attachment
	mu      sync.Mutex
	all     []byte // output and repaints
	stream  []byte // output only
	chunks  []Chunk
	lastSeq int64
	err     error // what ended it: ErrClosed, io.EOF
	ended   bool
	starts  int // readers started (the first by the test, the rest by Wake)
	leaves  int // readers that left on ErrIdle
	changed chan struct{}
	gate    func() // if set, what a woken reader waits for first
}

// attachLeaving attaches with LeaveAfter d and starts the first reader.
func attachLeaving(t *testing.T, s *Session, o AttachOptions, d time.Duration) *leavingReader {
	r := &leavingReader{t: t, changed: make(chan struct{})}
	o.LeaveAfter, o.Wake = d, func() {
		go func() {
			if r.gate != nil {
				r.gate()
			}
			r.run()
		}()
	}
	r.a = neverLag(attach(t, s, o))
	go r.run()
	return r
}

func (r *leavingReader) signalLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *leavingReader) run() {
	r.mu.Lock()
	r.starts++
	r.mu.Unlock()
	for {
		ch, err := r.a.Next(context.Background())
		r.mu.Lock()
		if err != nil {
			if errors.Is(err, ErrIdle) {
				r.leaves++
			} else {
				r.ended, r.err = true, err
			}
			r.signalLocked()
			r.mu.Unlock()
			return
		}
		r.chunks = append(r.chunks, Chunk{Kind: ch.Kind, Seq: ch.Seq, Recording: ch.Recording, ExitCode: ch.ExitCode})
		switch ch.Kind {
		case ChunkOutput:
			r.stream = append(r.stream, ch.Data...)
			r.all = append(r.all, ch.Data...)
		case ChunkRepaint:
			r.all = append(r.all, ch.Data...)
		}
		if ch.Kind != ChunkQuery {
			r.lastSeq = ch.Seq
		}
		r.signalLocked()
		r.mu.Unlock()
	}
}

// waitUntil waits, without polling, until cond (called with r.mu held)
// holds.
func (r *leavingReader) waitUntil(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if cond() {
			r.mu.Unlock()
			return
		}
		ch := r.changed
		tail := r.all[max(0, len(r.all)-200):]
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			r.t.Fatalf("timed out waiting for %s; output ends %q", what, tail)
		}
	}
}

// idle waits until the reader has left at least n times in all (a
// burst may have gaps to leave in) and not come back.
func (r *leavingReader) idle(n int) {
	r.t.Helper()
	r.waitUntil(fmt.Sprintf("leave %d", n), func() bool { return r.leaves >= n && r.starts == r.leaves })
}

// A reader that leaves when nothing comes is started again by whatever
// comes next: keystrokes' echoes, a burst far larger than the queue, the
// exit. It misses nothing, gets it in order (the same bytes as a reader
// that never left), is never taken for a stalled client, and Wake runs
// once per leave.
func TestLeaveWhenIdle(t *testing.T) {
	e := newTestEnv(t, Config{QueueBytes: 64 << 10})
	s := e.create(0)
	r := attachLeaving(t, s, AttachOptions{LastSeq: 0}, 20*time.Millisecond)
	plain := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
	r.idle(1) // after the prompt
	for i := range 3 {
		input(t, plain.a, fmt.Sprintf("echo echo-$((%d*7))\n", i))
		want := fmt.Sprintf("echo-%d", i*7)
		r.waitUntil(want, func() bool { return strings.Contains(string(r.stream), want+"\r\n") })
		r.idle(2 + i)
	}
	// 2 MB while the reader is away: the pump fills the queue long before
	// a slow reader would be called stalled; this one is not.
	input(t, plain.a, "seq 1 300000; echo burst-$((2*3))\n")
	r.waitUntil("the burst", func() bool { return strings.Contains(string(r.stream), "burst-6\r\n") })
	if n := r.a.Skips(); n != 0 {
		t.Fatalf("the reader that came back was repainted %d times", n)
	}
	r.idle(5)
	plain.waitFor("burst-6\r\n")
	input(t, plain.a, "exit 3\n")
	r.waitUntil("the end", func() bool { return r.ended })
	plain.waitUntil("the exit", func() bool { return plain.exit != nil })

	r.mu.Lock()
	defer r.mu.Unlock()
	if !errors.Is(r.err, io.EOF) {
		t.Fatalf("ended with %v, want io.EOF after the exit", r.err)
	}
	if last := r.chunks[len(r.chunks)-1]; last.Kind != ChunkExit || last.ExitCode != 3 {
		t.Fatalf("last chunk %v (code %d), want the exit with 3", last.Kind, last.ExitCode)
	}
	if r.starts != r.leaves+1 {
		t.Fatalf("%d readers started for %d leaves: Wake must start exactly one per leave", r.starts, r.leaves)
	}
	plain.mu.Lock()
	defer plain.mu.Unlock()
	if !bytes.Equal(r.stream, plain.stream) {
		t.Fatalf("the leaving reader got %d bytes, the plain one %d; they differ", len(r.stream), len(plain.stream))
	}
}

// Close, a repaint and a recording notice each bring a reader back.
func TestLeaveWakesForEverything(t *testing.T) {
	e := newTestEnv(t, Config{RecordDir: t.TempDir(), RecordOnRequest: true})
	s := e.create(0)
	r := attachLeaving(t, s, AttachOptions{LastSeq: -1, RecordingNotices: true, Viewport: true, Cols: 80, Rows: 24}, 20*time.Millisecond)
	r.waitUntil("the first repaint", func() bool { return len(r.chunks) > 0 && r.chunks[0].Kind == ChunkRepaint })
	r.idle(1)

	if err := e.m.SetRecording(Who{UserID: e.user.ID}, s.ID(), true); err != nil {
		t.Fatal(err)
	}
	r.waitUntil("the recording notice", func() bool {
		last := r.chunks[len(r.chunks)-1]
		return last.Kind == ChunkRecording && last.Recording
	})
	r.idle(2)

	// Another client takes the session to its size: this one, a viewport
	// of 80x24, is repainted as a view.
	other := attach(t, s, AttachOptions{LastSeq: -1})
	if err := other.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	r.waitUntil("the view's repaint", func() bool { return r.chunks[len(r.chunks)-1].Kind == ChunkRepaint })
	r.idle(3)

	r.a.Close()
	r.waitUntil("the reader to end", func() bool { return r.ended })
	r.mu.Lock()
	defer r.mu.Unlock()
	if !errors.Is(r.err, ErrClosed) || r.starts != 4 {
		t.Fatalf("ended with %v after %d starts, want ErrClosed after 4", r.err, r.starts)
	}
}

// A reader that was away longer than StallTimeout and is slow to come back
// (a loaded machine) is not taken for a stalled client: its stall clock
// starts at the wake. The pump fills its queue and waits for it, and it
// gets every byte, no repaint.
func TestLeaveNotStalled(t *testing.T) {
	e := newTestEnv(t, Config{QueueBytes: 64 << 10, StallTimeout: time.Minute})
	s := e.create(0)
	r := attachLeaving(t, s, AttachOptions{LastSeq: 0}, 20*time.Millisecond)
	r.idle(1)
	r.a.mu.Lock()
	r.a.since -= int64(time.Hour) // away for an hour
	r.a.mu.Unlock()
	var once sync.Once
	r.gate = func() {
		// Come back only once the pump waits for this client, or has
		// given up on it. The first wake only: on a loaded machine the
		// reader may leave again in a pause of seq's output, and near
		// its end the pump no longer fills the queue.
		once.Do(func() {
			deadline := time.Now().Add(waitTimeout)
			for !s.paused.Load() && time.Now().Before(deadline) {
				r.a.mu.Lock()
				dropped := r.a.repaint
				r.a.mu.Unlock()
				if dropped {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	input(t, r.a, "seq 1 100000; echo done-$((5*5))\n")
	r.waitUntil("the output", func() bool { return strings.Contains(string(r.stream), "done-25\r\n") })
	if n := r.a.Skips(); n != 0 {
		t.Fatalf("the reader coming back after an hour away was repainted %d times, as if stalled", n)
	}
	want := "99999\r\n100000\r\n"
	r.mu.Lock() // the reader goes on: the prompt is still coming
	stream := string(r.stream)
	r.mu.Unlock()
	if !strings.Contains(stream, want) {
		t.Fatalf("output misses %q", want)
	}
}
