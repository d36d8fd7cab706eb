package sessions

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Command tracking. The shell integration (shellint.go) makes the shell
// write the semantic prompt marks that VS Code, iTerm2 and WezTerm use:
// OSC 133 A (prompt), B (input), C (command output begins), D;exit (command
// done), and OSC 633 E;command-line and P;Cwd=dir. The pump reads them on
// their way through: they stay in the stream, since every terminal ignores
// what it does not know and some clients use them themselves.

// Command is one command line run at a session's prompt.
type Command struct {
	ID       string
	Command  string // the command line; "" when the shell cannot tell
	Cwd      string // "" when the shell did not say
	Seq      int64  // output offset of its start mark (OSC 133 C)
	EndSeq   int64  // output offset of its end mark (OSC 133 D); 0 while it runs
	Started  time.Time
	Duration time.Duration // 0 while it runs
	ExitCode *int          // nil while it runs, or when the shell gave no status
	Running  bool
}

// CommandEvent reports that a command started (Finished false) or finished.
type CommandEvent struct {
	SessionID, UserID, WorkspaceID string
	Finished                       bool
	Command                        Command
}

// maxCommands bounds each session's command history.
const maxCommands = 100

// maxMarkLen bounds a mark held back while its end has not arrived yet; a
// command line longer than this is not reported.
const maxMarkLen = 4 << 10

// markScanner finds the marks in the output. The pump owns it.
type markScanner struct {
	pend   []byte // a mark cut at the end of the previous chunk
	pendAt int64  // its offset
	t      *commandTracker
}

var oscStart = []byte("\x1b]")

// scan looks at p, which starts at output offset base. Output without
// "ESC ]" costs one vectorised search.
func (sc *markScanner) scan(p []byte, base int64) {
	if len(p) == 0 {
		return
	}
	if len(sc.pend) > 0 {
		var ok bool
		if p, base, ok = sc.resume(p, base); !ok {
			return
		}
	}
	for {
		i := bytes.Index(p, oscStart)
		if i < 0 {
			if p[len(p)-1] == 0x1b { // maybe cut after ESC
				sc.pend = append(sc.pend[:0], 0x1b)
				sc.pendAt = base + int64(len(p)-1)
			}
			return
		}
		rest := p[i:]
		if !maybeMark(rest[2:]) {
			p, base = p[i+2:], base+int64(i+2)
			continue
		}
		end := markEnd(rest, 2)
		if end < 0 {
			if len(rest) < maxMarkLen {
				sc.pend = append(sc.pend[:0], rest...)
				sc.pendAt = base + int64(i)
			}
			return
		}
		sc.t.mark(rest[2:end], base+int64(i))
		if p, base = rest[end:], base+int64(i+end); len(p) == 0 {
			return
		}
	}
}

// held reports whether part of a mark waits for the next chunk.
func (sc *markScanner) held() bool { return len(sc.pend) > 0 }

// resume continues the mark held back from the previous chunk with p. It
// returns what is left of p to scan, or false when p is all taken.
func (sc *markScanner) resume(p []byte, base int64) ([]byte, int64, bool) {
	pl := len(sc.pend)
	var buf [12]byte
	head := append(append(buf[:0], sc.pend[:min(pl, 6)]...), p[:min(len(p), 6)]...)
	if head[1] != ']' || !maybeMark(head[2:]) {
		sc.pend = sc.pend[:0]
		return p, base, true
	}
	if pl > 2 && sc.pend[pl-1] == 0x1b { // the terminator began the chunk before
		sc.t.mark(sc.pend[2:pl-1], sc.pendAt)
		sc.pend = sc.pend[:0]
		return p, base, true
	}
	j := markEnd(p, 0)
	switch {
	case j >= 0 && pl+j <= maxMarkLen:
		whole := append(sc.pend, p[:j]...)
		sc.t.mark(whole[2:], sc.pendAt)
		sc.pend = whole[:0]
		if j+1 >= len(p) {
			return nil, 0, false
		}
		return p[j+1:], base + int64(j+1), true
	case j < 0 && pl+len(p) < maxMarkLen:
		sc.pend = append(sc.pend, p...)
		return nil, 0, false
	}
	sc.pend = sc.pend[:0] // too long for a mark of ours
	return p, base, true
}

// maybeMark reports whether b (after "ESC ]") may begin a mark: "133;",
// "633;" or a prefix of one cut by the end of the chunk.
func maybeMark(b []byte) bool {
	for _, pre := range [...]string{"133;", "633;"} {
		n := min(len(b), len(pre))
		if string(b[:n]) == pre[:n] {
			return true
		}
	}
	return false
}

// markEnd returns the index of the terminator (BEL or ESC \) of the OSC
// that starts at b[0], searching from i, or -1 while it may still come.
// Whatever is left of the terminator is harmless to scan again.
func markEnd(b []byte, i int) int {
	for j := i; j < len(b); j++ {
		switch b[j] {
		case 0x07:
			return j
		case 0x1b:
			if j+1 < len(b) {
				return j
			}
			return -1
		}
	}
	return -1
}

// commandTracker turns marks into commands and events.
type commandTracker struct {
	s *Session

	mu      sync.Mutex
	next    int
	cmdline string // from the last E, for the next C
	cwd     string // from the last P;Cwd=
	cur     *Command
	quiet   bool      // cur's events are not sent (over the budget)
	hist    []Command // oldest first, at most maxCommands
	tokens  float64   // event budget, see allow
	last    time.Time
}

// Marks are output: any program can print them. A program that prints
// them in a loop must not flood the clients, so a session reports at most
// commandBurst commands at once and commandRate a second; the others are
// still listed.
const (
	commandBurst = 20
	commandRate  = 20
)

// allow spends one command's budget. Called with mu held.
func (t *commandTracker) allow(now time.Time) bool {
	if t.last.IsZero() {
		t.tokens = commandBurst
	} else {
		t.tokens = min(commandBurst, t.tokens+now.Sub(t.last).Seconds()*commandRate)
	}
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// mark handles the body of one OSC ("133;C", "633;E;ls") found at offset at.
func (t *commandTracker) mark(body []byte, at int64) {
	if len(body) < 5 {
		return
	}
	code, arg := body[4], ""
	if len(body) > 6 && body[5] == ';' {
		arg = string(body[6:])
	}
	switch string(body[:3]) + string(code) {
	case "633E":
		arg, _, _ = strings.Cut(arg, ";") // a nonce may follow
		t.mu.Lock()
		t.cmdline = unescapeMark(arg)
		t.mu.Unlock()
	case "633P":
		if dir, ok := strings.CutPrefix(arg, "Cwd="); ok {
			t.mu.Lock()
			t.cwd = unescapeMark(dir)
			t.mu.Unlock()
		}
	case "133C", "633C":
		t.start(at)
	case "133D", "633D":
		t.finish(arg, at)
	}
}

func (t *commandTracker) start(at int64) {
	t.mu.Lock()
	if t.cur != nil { // a second integration's mark for the same command
		t.mu.Unlock()
		return
	}
	t.next++
	now := time.Now()
	c := &Command{ID: strconv.Itoa(t.next), Command: t.cmdline, Cwd: t.cwd, Seq: at, Started: now, Running: true}
	t.cmdline = ""
	t.cur = c
	t.quiet = !t.allow(now)
	ev, quiet := *c, t.quiet
	t.mu.Unlock()
	if !quiet {
		t.s.m.commandEvent(t.s, false, ev)
	}
}

func (t *commandTracker) finish(arg string, at int64) {
	t.mu.Lock()
	c := t.cur
	if c == nil { // D without C: an empty command line, or a duplicate
		t.mu.Unlock()
		return
	}
	t.cur = nil
	c.Running = false
	c.EndSeq = at
	c.Duration = time.Since(c.Started)
	code, _, _ := strings.Cut(arg, ";")
	if n, err := strconv.Atoi(code); err == nil {
		c.ExitCode = &n
	}
	if len(t.hist) == maxCommands {
		t.hist = append(t.hist[:0], t.hist[1:]...)
	}
	t.hist = append(t.hist, *c)
	quiet := t.quiet
	t.mu.Unlock()
	if !quiet {
		t.s.m.commandEvent(t.s, true, *c)
	}
}

// list returns the recent commands, oldest first, the running one last.
func (t *commandTracker) list() []Command {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Command, 0, len(t.hist)+1)
	out = append(out, t.hist...)
	if t.cur != nil {
		out = append(out, *t.cur)
	}
	return out
}

// unescapeMark undoes the escaping of OSC 633 values: "\\" for a
// backslash and "\xNN" for a byte (";" and control characters).
func unescapeMark(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == '\\' {
				b.WriteByte('\\')
				i++
				continue
			}
			if s[i+1] == 'x' && i+3 < len(s) {
				if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 3
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Commands returns the session's recent commands (at most 100 finished
// ones, then the running one), oldest first. Empty without shell
// integration.
func (s *Session) Commands() []Command {
	if s.marks == nil {
		return nil
	}
	return s.marks.t.list()
}

// CommandFeed delivers the command events of every session. It never
// blocks the session core: a reader that falls more than its buffer behind
// loses events (logged once).
type CommandFeed struct {
	m       *Manager
	ch      chan CommandEvent
	dropped atomic.Bool // logged once
}

// WatchCommands starts a feed; Close stops it.
func (m *Manager) WatchCommands() *CommandFeed {
	f := &CommandFeed{m: m, ch: make(chan CommandEvent, 256)}
	m.watchMu.Lock()
	if m.feeds == nil {
		m.feeds = map[*CommandFeed]struct{}{}
	}
	m.feeds[f] = struct{}{}
	m.watchMu.Unlock()
	return f
}

// C receives the events.
func (f *CommandFeed) C() <-chan CommandEvent { return f.ch }

// Close stops the feed.
func (f *CommandFeed) Close() {
	f.m.watchMu.Lock()
	delete(f.m.feeds, f)
	f.m.watchMu.Unlock()
}

func (m *Manager) commandEvent(s *Session, finished bool, c Command) {
	ev := CommandEvent{SessionID: s.id, UserID: s.userID, WorkspaceID: s.workspaceID, Finished: finished, Command: c}
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	for f := range m.feeds {
		select {
		case f.ch <- ev:
		default:
			if f.dropped.CompareAndSwap(false, true) {
				m.log.Warn("command events dropped: reader too slow", "session", s.id)
			}
		}
	}
}
