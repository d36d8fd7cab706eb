package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// AttachOptions describe a client joining a session.
type AttachOptions struct {
	ReadOnly bool // a viewer: gets output, its input is dropped, never resizes
	// LastSeq is the offset the client saw last (Chunk.Seq), or -1 for a new
	// client, which starts with a repaint of the screen. A known offset
	// replays exactly the missing bytes while the ring holds them, and
	// repaints otherwise.
	LastSeq int64
	// Cols, Rows: the client's size, 0 if unknown. A writable client that
	// gives its size becomes the most recently active one, so the session
	// takes its size.
	Cols, Rows int
	// Scrollback is how many lines of history to put in front of a new
	// client's repaint, at most what the session keeps (Config.Scrollback).
	// A repaint in place of skipped output (Chunk.Skipped) brings at least
	// Config.Scrollback lines, the server's whole history, unless the
	// client keeps its own (ScrollbackOnce).
	Scrollback int
	// ScrollbackOnce puts the history in front of the first repaint only,
	// for a terminal that keeps its own (SSH): a repaint after the client
	// fell behind would add the same lines to it again.
	ScrollbackOnce bool
	// Viewport is for a client whose window keeps its own size (an SSH
	// terminal). While that is not the session's size, the output would
	// not show right on it (a line feed on the last of its 30 rows
	// scrolls, on row 30 of the shell's 45 it does not), so it gets views
	// instead: repaints of the part of the screen that fits its window,
	// panned to keep the cursor in sight, as tmux shows a window larger
	// than its client. A client that takes the session's size itself (the
	// web page resizes its terminal to it) leaves this off.
	Viewport bool
	// Direct, if set, is offered small output on the pump's goroutine when
	// the client has nothing queued and its reader waits in Next, so a
	// keystroke's echo skips the hand-off to the reader. It runs with the
	// session locked: it must not block or call the session. It reports
	// whether it took the output (data is valid during the call, seq as in
	// Chunk.Seq); if not, the output is queued for Next as usual. It never
	// runs while the reader is outside Next, and what it does happens
	// before Next returns, so it may use the reader's state without a lock.
	Direct func(data []byte, seq int64) bool
	// Client says what the client is ("ssh", "socket"), for Info.Clients
	// and monitoring.
	Client string
	// RecordingNotices puts a ChunkRecording in the stream each time the
	// session's recording is switched, for a client that shows it among
	// the output (SSH prints a line); the state at attach is not sent.
	RecordingNotices bool
	// LeaveAfter and Wake let a client keep no goroutine while nothing
	// comes: Next returns ErrIdle once it has waited LeaveAfter with
	// nothing to return, and its reader leaves. The next thing for the
	// client (output, a repaint, a query, the exit, a recording notice,
	// Close) then calls Wake, once, which starts a reader again; it runs
	// on the goroutine that caused it, the pump's among them, so it must
	// not block (go reader() is what it is for). A server holding many
	// idle terminals otherwise keeps a parked stack for each.
	LeaveAfter time.Duration
	Wake       func()
}

// directMax is the most output offered to AttachOptions.Direct at once, and
// directPerRead how many clients may take one read directly: the pump pays
// for what those do, and a session watched by many keeps its pace.
const (
	directMax     = 4 << 10
	directPerRead = 4
)

// ChunkKind says what a Chunk carries.
type ChunkKind int

const (
	// ChunkOutput is shell output, to be written to the client as is.
	ChunkOutput ChunkKind = iota
	// ChunkRepaint replaces the client's screen with the current one (it
	// starts by putting the terminal in a known state, without RIS). Sent
	// to a new client, to one whose offset the ring no longer holds, and to
	// one that fell behind (see Chunk.Skipped).
	ChunkRepaint
	// ChunkQuery is a terminal query (e.g. ESC [ 6 n) for this client to
	// answer; the reply is written back with Attachment.Write. Only the
	// most recently active writable client gets queries.
	ChunkQuery
	// ChunkExit says the shell has exited; nothing follows (Next then
	// returns io.EOF).
	ChunkExit
	// ChunkRecording says the session's recording was switched on or off
	// (Chunk.Recording); only with AttachOptions.RecordingNotices.
	ChunkRecording
)

func (k ChunkKind) String() string {
	switch k {
	case ChunkOutput:
		return "output"
	case ChunkRepaint:
		return "repaint"
	case ChunkQuery:
		return "query"
	case ChunkExit:
		return "exit"
	case ChunkRecording:
		return "recording"
	}
	return fmt.Sprintf("ChunkKind(%d)", int(k))
}

// Chunk is one piece of what a client must display.
type Chunk struct {
	Kind ChunkKind
	// Data is valid until the next call to Next.
	Data []byte
	// Seq is the output offset after this chunk: what to pass as
	// AttachOptions.LastSeq when reconnecting. Queries do not move it.
	Seq      int64
	ExitCode int    // ChunkExit: exit status, 128+n for signal n
	Signal   string // ChunkExit: "SIGTERM" style, or ""
	// Skipped is set on a repaint that stands in for output this client
	// was never sent: it fell behind, stalled, or resumed from an offset
	// the ring no longer holds. Such a repaint carries the server-side
	// scrollback (Config.Scrollback lines) in front of the screen.
	Skipped bool
	// Recording is ChunkRecording's news: the session is recorded now.
	Recording bool
}

// maxChunk caps one Output chunk, so one Next never hands a writer more than
// it can send in one go.
const maxChunk = 64 << 10

// keepQueueCap is the most queue memory an attachment keeps once it has
// been idle for shrinkAfter.
const (
	keepQueueCap = 256 << 10
	shrinkAfter  = 2 * time.Second
)

// maxPendingQueries bounds the queries waiting for a client that does not
// read them.
const maxPendingQueries = 64

// Attachment is one client's view of a session. Next is for one reader
// goroutine; Write, Resize and Close may be called from any goroutine.
type Attachment struct {
	s              *Session
	typed          atomic.Int64 // bytes of input taken, for the audit log
	readOnly       bool
	client         string // AttachOptions.Client
	scrollback     int
	scrollbackOnce bool
	viewport       bool
	maxQueue       int
	notify         chan struct{} // capacity 1: "something changed"
	closedCh       chan struct{}
	direct         func([]byte, int64) bool
	id             int  // the session's number for this client, from 1
	recNotices     bool // AttachOptions.RecordingNotices
	leaveAfter     time.Duration
	wakeFn         func()
	// away: the reader left Next with ErrIdle and the next wake calls
	// wakeFn. Set under mu by the leaving reader; cleared by the one wake
	// that swaps it, so exactly one reader runs at a time.
	away atomic.Bool

	// Guarded by s.mu:
	stamp      int64 // last activity, in the session's counter
	cols, rows int
	view       bool // the window is not the session's size: see updateViewsLocked

	// Guarded by mu. The queue is buf[head:]; the bytes before head were
	// handed out by the last Next and stay untouched until the next one.
	mu      sync.Mutex
	buf     []byte
	head    int
	end     int64 // offset just after the last queued (or dropped) byte
	allow   int   // extra queue room granted for a replay, until it drains
	repaint bool  // send a repaint instead of the queue: new or lagging
	skip    bool  // that repaint stands in for output the client was not sent
	lags    int   // times the client fell behind (or stalled)
	skips   int   // repaints sent in place of output (Chunk.Skipped)
	// since is when the reader last entered Next (unix nanoseconds): a
	// client whose queue holds output it has not come for since
	// Config.StallTimeout no longer sets the pace (see Session.pace).
	since   int64
	queries []pendingQuery
	result  *exitStatus
	sentEOF bool
	closed  bool
	waiting bool // the reader is in Next with nothing to return
	recTold bool // the recording state the client was told last

	shrink *time.Timer // Next's alone
	leave  *time.Timer // Next's alone
}

type pendingQuery struct {
	seq  int64 // the output offset at which the query appeared
	data []byte
}

// Attach adds a client to the session.
func (s *Session) Attach(opts AttachOptions) (*Attachment, error) {
	if opts.Cols != 0 || opts.Rows != 0 {
		if !validSize(opts.Cols, opts.Rows) {
			return nil, fmt.Errorf("attach %dx%d: %w", opts.Cols, opts.Rows, ErrInvalidSize)
		}
	}
	a := &Attachment{
		s:              s,
		readOnly:       opts.ReadOnly,
		client:         opts.Client,
		scrollback:     max(opts.Scrollback, 0),
		scrollbackOnce: opts.ScrollbackOnce,
		viewport:       opts.Viewport,
		maxQueue:       s.m.cfg.QueueBytes,
		notify:         make(chan struct{}, 1),
		closedCh:       make(chan struct{}),
		direct:         opts.Direct,
		since:          time.Now().UnixNano(),
		recNotices:     opts.RecordingNotices,
		recTold:        s.Recording(),
	}
	if opts.Wake != nil && opts.LeaveAfter > 0 {
		a.leaveAfter, a.wakeFn = opts.LeaveAfter, opts.Wake
	}
	// A viewer's size never becomes the session's, but says what it can show.
	a.cols, a.rows = opts.Cols, opts.Rows
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.result != nil {
		return nil, fmt.Errorf("attach to session %s: %w", s.id, ErrClosed)
	}
	switch {
	case opts.LastSeq < 0 || opts.LastSeq > s.seq:
		a.repaint = true
	case opts.LastSeq < s.seq:
		var ok bool
		a.buf, ok = s.ring.appendFrom(a.buf, opts.LastSeq, s.ring.max)
		a.allow = len(a.buf)
		if !ok {
			// Output this client saw part of is gone: what it gets
			// instead is a skip, like a lagging client's.
			a.repaint, a.skip = true, true
		}
	}
	a.end = s.seq
	s.nextClient++
	a.id = s.nextClient
	s.atts = append(s.atts, a)
	if a.readOnly {
		s.updateViewsLocked()
	} else {
		s.activateLocked(a)
	}
	s.m.changed(s)
	s.resume() // a client with room may set the pace now
	return a, nil
}

// push queues one read's output (and, for the answerer, its queries), or
// hands it to the client's Direct if offer allows and reports that it did.
// Called by the pump with s.mu held; it never blocks on the client.
func (a *Attachment) push(out []byte, start, end int64, qs []query, answer, offer bool) bool {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return false
	}
	if a.view && len(out) > 0 {
		a.repaint = true // it cannot show the output as it is
	}
	// Direct only while nothing is pending and the reader holds nothing
	// it has not sent: then the order holds.
	if offer && a.waiting && a.direct != nil && len(out) > 0 && len(out) <= directMax &&
		a.head == len(a.buf) && !a.repaint && a.result == nil && len(a.queries) == 0 &&
		(!answer || len(qs) == 0) && a.direct(out, end) {
		a.end = end
		a.mu.Unlock()
		return true
	}
	if len(out) > 0 && !a.repaint {
		// The pump reads only while some client is under its high-water
		// mark, so the fastest one is never past highWater+paceSlack: a
		// client beyond its limit is behind that one by about its queue.
		if len(a.buf)-a.head+len(out) > max(a.maxQueue+a.allow, a.s.highWater()+paceSlack) {
			// Fallen behind: drop the queue (never what the reader holds,
			// which is before head) and send a repaint when it comes back.
			a.fallBehind()
		} else {
			a.buf = append(a.buf, out...)
		}
	}
	a.end = end
	if answer {
		for _, q := range qs {
			if len(a.queries) < maxPendingQueries {
				a.queries = append(a.queries, pendingQuery{seq: start + int64(q.at), data: bytes.Clone(q.data)})
			}
		}
	}
	a.mu.Unlock()
	a.wake()
	return false
}

// fallBehind drops the queue for a repaint that stands in for it. Called
// with a.mu held.
func (a *Attachment) fallBehind() {
	a.repaint, a.skip = true, true
	a.lags++
	a.s.m.stats.lags.Add(1)
	a.buf = a.buf[:a.head]
}

func (a *Attachment) wake() {
	select {
	case a.notify <- struct{}{}:
	default:
	}
	if a.wakeFn != nil && a.away.CompareAndSwap(true, false) {
		// The new reader starts its stall clock now, not when the last
		// one left: a client that was away is not a stalled one.
		a.mu.Lock()
		a.since = time.Now().UnixNano()
		a.mu.Unlock()
		a.wakeFn()
	}
}

func (a *Attachment) setExit(st exitStatus) {
	a.mu.Lock()
	a.result = &st
	a.mu.Unlock()
	a.wake()
}

// Next waits for what the client must display next and returns everything
// queued (up to 64 KiB) at once: output, a repaint, a query for this client
// to answer, or the exit. After the exit it returns io.EOF; after Close,
// ErrClosed; with AttachOptions.LeaveAfter, ErrIdle when its reader is to
// leave.
func (a *Attachment) Next(ctx context.Context) (Chunk, error) {
	c, _, _, _, err := NextOr[struct{}](ctx, a, nil)
	return c, err
}

// NextOr is a.Next that also returns when c delivers a value (received
// true, v and ok as from a receive on c), so that a front-end waits for
// its own rare events, a window change, on the goroutine that waits for
// output instead of keeping another one blocked for them.
func NextOr[T any](ctx context.Context, a *Attachment, c <-chan T) (chunk Chunk, v T, received, ok bool, err error) {
	for {
		a.mu.Lock()
		a.waiting = false
		a.since = time.Now().UnixNano()
		if a.closed {
			a.mu.Unlock()
			return Chunk{}, v, false, false, ErrClosed
		}
		// The caller is done with the previous chunk: reclaim its space.
		if a.head == len(a.buf) {
			a.buf, a.head, a.allow = a.buf[:0], 0, 0
		} else if a.head >= len(a.buf)-a.head {
			a.buf = a.buf[:copy(a.buf, a.buf[a.head:])]
			a.head = 0
		}
		if a.repaint {
			a.mu.Unlock()
			return a.doRepaint(), v, false, false, nil
		}
		queued := len(a.buf) - a.head
		first := a.end - int64(queued)
		// Before the queue: a stream that never pauses still shows it.
		if a.recNotices {
			if now := a.s.Recording(); now != a.recTold {
				a.recTold = now
				a.mu.Unlock()
				return Chunk{Kind: ChunkRecording, Recording: now, Seq: first}, v, false, false, nil
			}
		}
		if len(a.queries) > 0 && a.queries[0].seq <= first {
			q := a.queries[0]
			a.queries = append(a.queries[:0], a.queries[1:]...)
			a.mu.Unlock()
			return Chunk{Kind: ChunkQuery, Data: q.data, Seq: first}, v, false, false, nil
		}
		if queued > 0 {
			n := min(queued, maxChunk)
			if len(a.queries) > 0 {
				n = min(n, int(a.queries[0].seq-first))
			}
			data := a.buf[a.head : a.head+n : a.head+n]
			a.head += n
			room := len(a.buf)-a.head < a.s.lowWater()
			a.mu.Unlock()
			if room {
				a.s.resume()
			}
			return Chunk{Kind: ChunkOutput, Data: data, Seq: first + int64(n)}, v, false, false, nil
		}
		if r := a.result; r != nil {
			eof := a.sentEOF
			a.sentEOF = true
			a.mu.Unlock()
			if eof {
				return Chunk{}, v, false, false, io.EOF
			}
			return Chunk{Kind: ChunkExit, Seq: a.end, ExitCode: r.code, Signal: r.signal}, v, false, false, nil
		}
		// A burst grew the queue: give the memory back once the client
		// has been idle a while (not at once: a busy stream would keep
		// reallocating it).
		var idle <-chan time.Time
		if cap(a.buf) > keepQueueCap {
			if a.shrink == nil {
				a.shrink = time.NewTimer(shrinkAfter)
			} else {
				a.shrink.Reset(shrinkAfter)
			}
			idle = a.shrink.C
		}
		var leave <-chan time.Time
		if a.leaveAfter > 0 {
			if a.leave == nil {
				a.leave = time.NewTimer(a.leaveAfter)
			} else {
				a.leave.Reset(a.leaveAfter)
			}
			leave = a.leave.C
		}
		a.waiting = true
		a.mu.Unlock()
		select {
		case v, ok = <-c:
			a.mu.Lock()
			a.waiting = false
			a.mu.Unlock()
			return Chunk{}, v, true, ok, nil
		case <-a.notify:
		case <-idle:
			a.mu.Lock()
			if a.head == len(a.buf) {
				a.buf, a.head = nil, 0
			}
			a.mu.Unlock()
		case <-leave:
			if a.leaveIdle() {
				return Chunk{}, v, false, false, ErrIdle
			}
		case <-a.closedCh:
		case <-ctx.Done():
			a.mu.Lock()
			a.waiting = false
			a.mu.Unlock()
			return Chunk{}, v, false, false, ctx.Err()
		}
	}
}

// leaveIdle lets the reader go if, under the lock, there is still nothing
// for it (a push that came with the timer is returned first): it marks
// the attachment away, so the next wake starts a reader, and gives back
// the queue's memory.
func (a *Attachment) leaveIdle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.repaint || a.head < len(a.buf) || len(a.queries) > 0 || a.result != nil ||
		(a.recNotices && a.s.Recording() != a.recTold) {
		return false
	}
	a.waiting = false
	a.buf, a.head, a.allow = nil, 0, 0
	a.away.Store(true)
	return true
}

// doRepaint builds the screen under the session lock so the repaint and its
// offset agree, and restarts the queue from there.
func (a *Attachment) doRepaint() Chunk {
	s := a.s
	s.mu.Lock()
	a.mu.Lock()
	// A repaint in place of skipped output brings the server's whole
	// scrollback, so the history above the screen is the true one.
	lines, skipped := a.scrollback, a.skip
	if skipped {
		a.skips++
		// A terminal that keeps its own history (SSH) has the lines from
		// before it fell behind: giving them again would repeat them.
		if !a.scrollbackOnce {
			lines = max(lines, s.m.cfg.Scrollback)
		}
	}
	// Not kept for the next one: repaints are rare, and an idle client
	// would hold a screenful for nothing.
	var data []byte
	if t := s.lockScreen(); a.view {
		data = t.AppendView(nil, a.cols, a.rows)
	} else {
		data = t.AppendRepaint(nil, lines)
		if a.scrollbackOnce {
			a.scrollback = 0
		}
	}
	s.screen.mu.Unlock()
	a.buf, a.head, a.allow = a.buf[:0], 0, 0
	seq := s.seq // a.end moves with the pump once the locks are released
	a.end = seq
	a.repaint, a.skip = false, false
	a.mu.Unlock()
	if skipped {
		s.m.changed(s) // session status counts the repaints
	}
	s.mu.Unlock()
	s.m.stats.repaints.Add(1)
	s.resume() // back in the race with an empty queue
	return Chunk{Kind: ChunkRepaint, Data: data, Seq: seq, Skipped: skipped}
}

// Write sends input to the shell. A viewer's input is dropped (and reported
// as written). Writing makes this the most recently active client.
func (a *Attachment) Write(p []byte) (int, error) {
	if write, err := a.beforeInput(p); err != nil {
		return 0, err
	} else if !write {
		return len(p), nil
	}
	s := a.s
	s.writeMu.Lock()
	n, err := s.master.Write(p)
	s.writeMu.Unlock()
	s.inputDone(n)
	return n, s.inputError(err)
}

// TryWrite writes as much of p as the terminal takes at once, without
// waiting for the shell or for another client's input, and returns how much
// that was; the caller writes the rest with Write, in order. It spares a
// keystroke the hand-off to a goroutine that is there only for a shell that
// does not read.
func (a *Attachment) TryWrite(p []byte) (int, error) {
	if write, err := a.beforeInput(p); err != nil {
		return 0, err
	} else if !write {
		return len(p), nil
	}
	s := a.s
	if !s.writeMu.TryLock() {
		return 0, nil
	}
	defer s.writeMu.Unlock()
	var n int
	var werr error
	err := s.rawMaster.Write(func(fd uintptr) bool {
		n, werr = unix.Write(int(fd), p)
		return true // never wait: a full terminal is Write's business
	})
	if err == nil {
		err = werr
	}
	if err == unix.EAGAIN || err == unix.EINTR {
		return 0, nil
	}
	s.inputDone(n)
	return max(n, 0), s.inputError(err)
}

// beforeInput checks input and makes a the most recently active client. It
// reports whether p must be written: a viewer's input and empty input are
// dropped (and count as written); refused input comes with its error.
func (a *Attachment) beforeInput(p []byte) (bool, error) {
	s := a.s
	if len(p) > s.m.cfg.MaxInputBytes {
		return false, fmt.Errorf("input of %d bytes (max %d): %w", len(p), s.m.cfg.MaxInputBytes, ErrInputTooLarge)
	}
	if a.isClosed() {
		return false, ErrClosed
	}
	if a.readOnly || len(p) == 0 {
		return false, nil
	}
	if s.latestFast.Load() != a {
		s.mu.Lock()
		if !a.isClosed() {
			s.activateLocked(a)
		}
		s.mu.Unlock()
	}
	s.lastInput.Store(time.Now().UnixNano())
	a.typed.Add(int64(len(p)))
	if s.rec != nil && s.m.cfg.RecordInput {
		s.rec.input(p)
	}
	return true, nil
}

// inputError names the session in a failed write to its terminal; a closed
// terminal is ErrClosed.
func (s *Session) inputError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EIO) || s.masterClosed.Load():
		return fmt.Errorf("input to session %s: %w", s.id, ErrClosed)
	}
	return fmt.Errorf("input to session %s: %w", s.id, err)
}

func (a *Attachment) isClosed() bool {
	select {
	case <-a.closedCh:
		return true
	default:
		return false
	}
}

// Resize reports the client's window size. A writable client's becomes the
// session's (it is now the most recent); a viewer's only decides what part
// of the screen it is shown.
func (a *Attachment) Resize(cols, rows int) error {
	if !validSize(cols, rows) {
		return fmt.Errorf("resize to %dx%d: %w", cols, rows, ErrInvalidSize)
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.isClosed() {
		return ErrClosed
	}
	a.cols, a.rows = cols, rows
	if a.readOnly {
		s.updateViewsLocked()
		return nil
	}
	s.activateLocked(a)
	return nil
}

// ID returns the session's number for this client (ClientInfo.ID).
func (a *Attachment) ID() int { return a.id }

// ReadOnly reports whether this is a viewer.
func (a *Attachment) ReadOnly() bool { return a.readOnly }

// Session returns the attached session.
func (a *Attachment) Session() *Session { return a.s }

// Lags reports how many times this client fell behind the fastest one, or
// stalled, and so was marked for a repaint.
func (a *Attachment) Lags() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lags
}

// Skips reports how many repaints this client got in place of output
// (Chunk.Skipped).
func (a *Attachment) Skips() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.skips
}

// Close detaches the client; the session keeps running. A pending Next
// returns ErrClosed.
func (a *Attachment) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.buf, a.head, a.queries = nil, 0, nil
	a.mu.Unlock()
	close(a.closedCh)
	a.wake() // a reader that left comes back to see ErrClosed
	a.s.detach(a)
}
