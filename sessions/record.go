package sessions

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// recorder writes a session's output as an asciicast v2 file. The pump only
// appends to an in-memory buffer under a short lock; a goroutine of its own
// encodes and writes, so a slow disk can never slow the shell. If the disk
// falls behind by more than maxRecordPending, output is dropped from the
// recording (and the gap is logged) rather than held.
//
// A recorder may start switched off (Config.RecordOnRequest): it then
// opens its file, with the size of that moment in the header, when first
// switched on, and records nothing while off.
type recorder struct {
	path  string
	shell string
	log   *slog.Logger
	on    atomic.Bool

	mu         sync.Mutex
	start      time.Time
	cols, rows int // the session's size, for the header
	opened     bool
	pending    []byte
	events     []recEvent
	dropped    int64
	closed     bool

	wake chan struct{}
	done chan struct{}
	tail []byte // set by run when it ends: an incomplete UTF-8 sequence not yet written
}

type recEvent struct {
	t    time.Duration
	kind byte // 'o' output, 'i' input (bytes in pending up to end), 'r' resize
	end  int
	cols int
	rows int
}

const (
	maxRecordPending = 8 << 20
	recordFlushEvery = 200 * time.Millisecond
)

func newRecorder(dir, sessionID, shell string, cols, rows int, on bool, log *slog.Logger) (*recorder, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording dir: %w", err)
	}
	r := &recorder{path: filepath.Join(dir, safeName(sessionID)+".cast"), shell: shell, log: log, cols: cols, rows: rows,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if on {
		if err := r.setOn(true); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// setOn switches recording on or off. The file is opened (and the header
// written) the first time it is switched on; later output is appended.
func (r *recorder) setOn(on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if on && !r.opened {
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("recording: %w", err)
		}
		r.start = time.Now()
		hdr, _ := json.Marshal(map[string]any{
			"version":   2,
			"width":     r.cols,
			"height":    r.rows,
			"timestamp": r.start.Unix(),
			"env":       map[string]string{"SHELL": r.shell, "TERM": "xterm-256color"},
		})
		w := bufio.NewWriterSize(f, 64<<10)
		w.Write(hdr)
		w.WriteByte('\n')
		r.opened = true
		go r.run(f, w, nil)
	}
	r.on.Store(on)
	return nil
}

// resumeRecorder takes over a recorder a previous program image handed
// over (see handOff): an opened recording is appended to, so the file stays
// one cast.
func resumeRecorder(h *handoverRecording, log *slog.Logger) (*recorder, error) {
	r := &recorder{path: h.Path, shell: h.Shell, log: log, start: h.Start, cols: h.Cols, rows: h.Rows,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if h.Opened {
		f, err := os.OpenFile(h.Path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, fmt.Errorf("resume recording: %w", err)
		}
		r.opened = true
		go r.run(f, bufio.NewWriterSize(f, 64<<10), h.Tail)
	}
	r.on.Store(h.On)
	return r, nil
}

// handOff writes everything pending and closes the file like close, and
// describes the recorder for resumeRecorder in the next program image.
func (r *recorder) handOff() *handoverRecording {
	r.close()
	r.mu.Lock()
	defer r.mu.Unlock()
	return &handoverRecording{Path: r.path, Shell: r.shell, Start: r.start, Cols: r.cols, Rows: r.rows,
		Opened: r.opened, On: r.on.Load(), Tail: r.tail}
}

// output records p. Called by the pump; never blocks on I/O.
func (r *recorder) output(p []byte) {
	r.add('o', p)
}

// input records p as an input marker (Config.RecordInput).
func (r *recorder) input(p []byte) {
	r.add('i', p)
}

func (r *recorder) add(kind byte, p []byte) {
	if len(p) == 0 || !r.on.Load() {
		return
	}
	r.mu.Lock()
	if r.closed || !r.on.Load() {
		r.mu.Unlock()
		return
	}
	t := time.Since(r.start)
	if len(r.pending)+len(p) > maxRecordPending {
		r.dropped += int64(len(p))
		r.mu.Unlock()
		return
	}
	r.pending = append(r.pending, p...)
	if n := len(r.events); n > 0 && r.events[n-1].kind == kind && t-r.events[n-1].t < time.Millisecond {
		r.events[n-1].end = len(r.pending) // same instant for a player: one event
	} else {
		r.events = append(r.events, recEvent{t: t, kind: kind, end: len(r.pending)})
	}
	r.mu.Unlock()
}

func (r *recorder) resize(cols, rows int) {
	r.mu.Lock()
	r.cols, r.rows = cols, rows
	if !r.closed && r.on.Load() {
		r.events = append(r.events, recEvent{t: time.Since(r.start), kind: 'r', end: len(r.pending), cols: cols, rows: rows})
	}
	r.mu.Unlock()
}

// close flushes what is pending and closes the file; it waits for the writer.
func (r *recorder) close() {
	r.mu.Lock()
	already, opened := r.closed, r.opened
	r.closed = true
	r.mu.Unlock()
	if !opened {
		return
	}
	if !already {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	<-r.done
}

func (r *recorder) run(f *os.File, w *bufio.Writer, carry []byte) {
	defer close(r.done)
	tick := time.NewTicker(recordFlushEvery)
	defer tick.Stop()
	var data []byte
	var events []recEvent
	// carry is an incomplete UTF-8 sequence at the end of the last event.
	var line []byte
	reported := int64(0)
	for {
		select {
		case <-tick.C:
		case <-r.wake:
		}
		r.mu.Lock()
		data, r.pending = r.pending, data[:0]
		events, r.events = r.events, events[:0]
		closed, dropped := r.closed, r.dropped
		r.mu.Unlock()

		start := 0
		for _, e := range events {
			secs := strconv.FormatFloat(e.t.Seconds(), 'f', 6, 64)
			if e.kind == 'r' {
				line = fmt.Appendf(line[:0], "[%s, \"r\", \"%dx%d\"]\n", secs, e.cols, e.rows)
				w.Write(line)
				continue
			}
			if e.kind == 'i' {
				in, _ := json.Marshal(string(data[start:e.end]))
				start = e.end
				line = fmt.Appendf(line[:0], "[%s, \"i\", %s]\n", secs, in)
				w.Write(line)
				continue
			}
			chunk := append(carry, data[start:e.end]...)
			start = e.end
			cut := completeUTF8(chunk)
			carry = append([]byte(nil), chunk[cut:]...)
			s, _ := json.Marshal(string(chunk[:cut]))
			line = append(append(line[:0], '['), secs...)
			line = append(line, ", \"o\", "...)
			line = append(line, s...)
			line = append(line, "]\n"...)
			w.Write(line)
		}
		if dropped > reported {
			r.log.Warn("recording fell behind; output dropped", "file", r.path, "bytes", dropped-reported)
			reported = dropped
		}
		if err := w.Flush(); err != nil {
			r.log.Warn("recording write failed", "file", r.path, "err", err)
		}
		if closed {
			r.tail = carry
			if err := f.Close(); err != nil {
				r.log.Warn("recording close failed", "file", r.path, "err", err)
			}
			return
		}
	}
}

// completeUTF8 returns the length of the longest prefix of b that does not
// end inside a UTF-8 sequence, so a character split between two reads is
// written whole in the next event instead of as two replacement characters.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		c := b[i]
		if c < 0x80 {
			return len(b)
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
