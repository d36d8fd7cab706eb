package sessions

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codeterm/codeterm/sessions/vt"
)

// screen is the session's emulator. The pump does not feed it bulk output
// itself: emulation costs as much as the rest of the data path, and a pump
// that returns to the PTY sooner lets the program write sooner. Output goes
// to the ring, and a feeder goroutine (started when output arrives, gone once
// it has caught up) replays the ring into the emulator at a lower priority.
// Whoever needs the screen (a repaint, a resize, the title) first catches
// it up under the session's lock, so it always shows exactly the output up
// to the session's offset.
//
// The ring holds everything not yet fed: before output would push unfed
// bytes out of the ring, the pump catches the emulator up itself.
type screen struct {
	mu   sync.Mutex // the emulator; taken after the session's mu, never before
	term *vt.Terminal
	fed  atomic.Int64 // output offset the emulator has consumed

	// Guarded by the session's mu:
	claimed int64 // output offset handed to the feeder (or fed)
	feeding bool  // a feeder runs
	feeders sync.WaitGroup
	idle    *time.Timer // packs the emulator once the shell is quiet; nil: never
	packed  bool        // idle packed the emulator and is not armed
}

// inlineFeed is the most output the pump feeds to an idle emulator itself: a
// keystroke's echo, a prompt or a small redraw costs less to emulate (a few
// microseconds) than to hand to a new thread.
const inlineFeed = 4 << 10

// feederNice is the feeder thread's nice value.
const feederNice = 10

// screenOutputLocked gives the emulator out, which the pump is about to
// append at s.seq. Called with s.mu held, before the ring takes out.
func (s *Session) screenOutputLocked(out []byte) {
	sc := &s.screen
	s.screenUsedLocked()
	end := s.seq + int64(len(out))
	if (!sc.feeding && len(out) <= inlineFeed) || end-sc.fed.Load() > int64(s.ring.max) {
		t := s.lockScreen()
		t.Write(out)
		sc.fed.Store(end)
		sc.claimed = end
		sc.mu.Unlock()
		return
	}
	if !sc.feeding {
		sc.feeding = true
		sc.feeders.Add(1)
		go s.feedScreen()
	}
}

// feedScreen replays the ring into the emulator until it has caught up, on
// an OS thread of its own at a lower priority (nice 10): the shell's
// program and the data path run first, and the emulator takes the CPU that
// is left (if it falls a ring behind, the pump catches it up at full
// priority). Measured with OpenSSH's client and `cat` of 64 MiB, A/B in one
// run, medians of 10: 59.8 MiB/s with an ordinary goroutine, 64.5 with the
// goroutine locked to a thread, 67.8 with that thread niced (OpenSSH's
// sshd: 68.2). One long-lived niced goroutine for all sessions measured no
// better than an ordinary one (58.5 against 57.4).
func (s *Session) feedScreen() {
	sc := &s.screen
	defer sc.feeders.Done()
	// Never unlocked: the thread ends with this goroutine rather than go
	// back to running other goroutines at the lower priority.
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), feederNice)
	bp := s.m.bufs.Get().(*[]byte)
	defer s.m.bufs.Put(bp)
	for {
		s.mu.Lock()
		from := sc.claimed
		buf, ok := s.ring.appendFrom((*bp)[:0], from, cap(*bp))
		if from >= s.seq || !ok {
			// !ok cannot happen (the pump keeps unfed output in the
			// ring); were it to, a reader's catch-up reports it.
			sc.feeding = false
			s.mu.Unlock()
			return
		}
		sc.claimed = from + int64(len(buf))
		s.mu.Unlock()
		sc.mu.Lock()
		// A reader may have caught the emulator up meanwhile.
		if sc.fed.Load() == from {
			sc.term.Write(buf)
			sc.fed.Store(from + int64(len(buf)))
		}
		sc.mu.Unlock()
	}
}

// lockScreen catches the emulator up with all output and returns it locked;
// the caller holds s.mu and unlocks s.screen.mu when done.
func (s *Session) lockScreen() *vt.Terminal {
	sc := &s.screen
	sc.mu.Lock()
	if f := sc.fed.Load(); f < s.seq {
		if a, b, ok := s.ring.slices(f); ok {
			sc.term.Write(a)
			sc.term.Write(b)
		} else {
			s.log.Error("screen lost output", "fed", f, "seq", s.seq)
		}
		sc.fed.Store(s.seq)
	}
	sc.claimed = s.seq
	s.screenUsedLocked()
	return sc.term
}

// An idle session keeps its screen packed: a server mostly holds sessions
// nobody types in, and a 120x40 screen is 57 KiB as cells against a few
// hundred bytes to a few KiB packed (vt.Terminal.Pack; the scrollback,
// up to ~1 MiB as cells, too). The emulator unpacks itself when it is next
// used, exactly as it was; waking a full screen and packing it again costs
// about 80 µs (the scrollback stays packed unless lines scroll into it),
// so a shell that writes less often than PackAfter (a clock in a prompt)
// pays that once per write.
//
// One timer per session, armed while the screen is unpacked; it finds out
// from lastOutput whether output came meanwhile, so the pump pays nothing
// per read.

// startPacking arms the session's idle timer.
func (s *Session) startPacking() {
	d := s.m.cfg.PackAfter
	if d <= 0 {
		return
	}
	s.mu.Lock()
	s.screen.idle = time.AfterFunc(d, s.packIdle)
	s.mu.Unlock()
}

// packIdle packs the screen if the shell has been quiet for PackAfter, and
// otherwise waits for the rest of it.
func (s *Session) packIdle() {
	d := s.m.cfg.PackAfter
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := &s.screen
	if s.result != nil || sc.packed {
		return
	}
	if wait := time.Duration(s.lastOutput.Load() + int64(d) - time.Now().UnixNano()); wait > 0 || sc.feeding {
		sc.idle.Reset(max(wait, d/8))
		return
	}
	t := s.lockScreen()
	t.Pack()
	sc.mu.Unlock()
	sc.packed = true
}

// screenUsedLocked rearms the idle timer once the screen is in use again
// (it unpacks itself). Called with s.mu held.
func (s *Session) screenUsedLocked() {
	if sc := &s.screen; sc.packed && s.result == nil {
		sc.packed = false
		sc.idle.Reset(s.m.cfg.PackAfter)
	}
}
