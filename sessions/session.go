package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codeterm/codeterm/internal/procwait"
	"github.com/codeterm/codeterm/sessions/vt"
	"github.com/codeterm/codeterm/store"
)

// Info is a snapshot of a session.
type Info struct {
	ID, WorkspaceID, UserID string
	Name                    string
	Shell                   string // bash, zsh, fish or sh
	Title                   string // window title set by the programs (OSC 0/2)
	PID                     int
	Cols, Rows              int
	CreatedAt, LastActivity time.Time
	Status                  string // store.SessionActive or store.SessionTerminated
	// ExitCode is set once the shell has exited; 128+n when signal n
	// killed it, as the shell's $? would say.
	ExitCode *int
	Signal   string // "SIGTERM" style, when a signal ended the shell
	Attached int    // writable attachments
	Viewers  int    // read-only attachments
	Seq      int64  // output offset: bytes of output so far
	Clients  []ClientInfo
}

// ClientInfo describes one attachment of a session.
type ClientInfo struct {
	ID       int    // the session's number for it, from 1 in order of attaching
	Client   string // AttachOptions.Client: "ssh", "socket", ...
	ReadOnly bool
	// Repaints counts the repaints it got in place of output (it fell
	// behind the fastest client, stalled, or resumed too late for the
	// ring): what it did not see byte for byte.
	Repaints int
	Lagging  bool // marked for such a repaint, not yet sent
}

// Session is one shell on a PTY. Its methods are safe for concurrent use.
type Session struct {
	m                              *Manager
	log                            *slog.Logger
	id, workspaceID, userID, shell string
	pid                            int
	created                        time.Time
	order                          int64 // creation order in the manager
	cmd                            *exec.Cmd
	master                         *os.File
	rawMaster                      syscall.RawConn
	rec                            *recorder          // nil: not recorded
	agent                          *agentRelay        // the shell's SSH_AUTH_SOCK; nil: none
	recHandoff                     *handoverRecording // the recording while frozen for a hand-over

	lastOutput, lastInput, lastDetach atomic.Int64 // unix nanoseconds
	echoFrom                          atomic.Int64 // unix nanoseconds of an input not yet answered; 0 = none
	latestFast                        atomic.Pointer[Attachment]
	reaped, exiting                   atomic.Bool
	// reapMu: signals by the shell's pid (its group, its session's
	// members) are sent under the read lock, and the reap takes the write
	// lock, so none goes out after the pid may be another process's.
	reapMu       sync.RWMutex
	masterClosed atomic.Bool // set before master is closed: input failing after it is ErrClosed

	writeMu sync.Mutex // whole input writes from different clients never interleave

	filter queryFilter  // the pump's alone
	gate   pumpGate     // parks the pump for a hand-over (handover.go)
	park   pumpPark     // lets an idle pump's goroutine go (park.go)
	marks  *markScanner // the pump's alone; nil without shell integration

	// mu guards the ring, the offset and the attachment list, and the
	// screen's catching up, so that a repaint or a replay and the offset it
	// carries always agree.
	mu     sync.Mutex
	name   string
	screen screen
	ring   ring
	seq    int64
	cols   int
	rows   int
	atts   []*Attachment
	stamp  int64 // activity counter for the "latest client wins" policy
	result *exitStatus

	nextClient int // numbers attachments (ClientInfo.ID); under mu

	// Pacing (pace.go): the pump waits on unpause while paused; free
	// ends pacing for good. pausedNanos and pausedAt (0 while running)
	// tell drain how long the pump has waited for clients.
	unpause               chan struct{}
	paused, free          atomic.Bool
	pausedNanos, pausedAt atomic.Int64

	killOnce sync.Once
	pumpDone chan struct{}
	done     chan struct{}
}

type exitStatus struct {
	code   int
	signal string
}

func newSession(m *Manager, id string, opts SpawnOptions, shell string, c *child) *Session {
	now := time.Now()
	s := &Session{
		m:           m,
		log:         m.log.With("session", id),
		id:          id,
		workspaceID: opts.WorkspaceID,
		userID:      opts.UserID,
		shell:       shell,
		pid:         c.cmd.Process.Pid,
		created:     now,
		cmd:         c.cmd,
		master:      c.master,
		rawMaster:   c.raw,
		name:        opts.Name,
		screen:      screen{term: vt.New(opts.Cols, opts.Rows, m.cfg.Scrollback)},
		ring:        newRing(m.cfg.RingBytes),
		cols:        opts.Cols,
		rows:        opts.Rows,
		pumpDone:    make(chan struct{}),
		done:        make(chan struct{}),
		unpause:     make(chan struct{}, 1),
	}
	s.lastOutput.Store(now.UnixNano())
	return s
}

func (s *Session) start() {
	s.startPacking()
	go s.pump()
	if !s.m.ready.exited(s.pid, func() { s.wait(true) }) {
		go s.wait(false)
	}
	if d := s.m.cfg.IdleTimeout; d > 0 {
		go s.idleWatch(d)
	}
}

// abort ends a session that was never started.
func (s *Session) abort() {
	unix.Kill(-s.pid, unix.SIGKILL)
	s.closeMaster()
	s.cmd.Wait()
	if s.rec != nil {
		s.rec.close()
	}
	if s.agent != nil {
		s.agent.close()
	}
}

// ID returns the session's id.
func (s *Session) ID() string { return s.id }

// WorkspaceID returns the workspace the session runs in.
func (s *Session) WorkspaceID() string { return s.workspaceID }

// UserID returns the owner.
func (s *Session) UserID() string { return s.userID }

// Name returns the display name.
func (s *Session) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Done is closed once the shell has exited, every attachment has been given
// all output and the exit, and the end is recorded.
func (s *Session) Done() <-chan struct{} { return s.done }

// Info returns a snapshot of the session.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	title := s.lockScreen().Title()
	s.screen.mu.Unlock()
	i := Info{
		ID: s.id, WorkspaceID: s.workspaceID, UserID: s.userID, Name: s.name, Shell: s.shell,
		Title: title, PID: s.pid, Cols: s.cols, Rows: s.rows, CreatedAt: s.created,
		LastActivity: time.Unix(0, max(s.lastInput.Load(), s.lastOutput.Load())),
		Status:       store.SessionActive, Seq: s.seq,
	}
	for _, a := range s.atts {
		if a.readOnly {
			i.Viewers++
		} else {
			i.Attached++
		}
		a.mu.Lock()
		i.Clients = append(i.Clients, ClientInfo{ID: a.id, Client: a.client, ReadOnly: a.readOnly,
			Repaints: a.skips, Lagging: a.skip})
		a.mu.Unlock()
	}
	if r := s.result; r != nil {
		i.Status = store.SessionTerminated
		code := r.code
		i.ExitCode, i.Signal = &code, r.signal
	}
	return i
}

// Rename sets the display name and records it.
func (s *Session) Rename(ctx context.Context, name string) error {
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
	s.m.changed(s)
	if err := s.m.persist(ctx, s); err != nil {
		return fmt.Errorf("rename session %s: %w", s.id, err)
	}
	return nil
}

// Processes lists the processes running under the shell (not the shell
// itself), for workspace status.
func (s *Session) Processes() []Process {
	if s.reaped.Load() {
		return nil
	}
	var out []Process
	for _, pid := range descendants(readProcs(), s.pid) {
		if cmd := commandOf(pid); cmd != "" {
			out = append(out, Process{PID: pid, Command: cmd})
		}
	}
	return out
}

// Kill ends the session: SIGHUP to every process of the session (the
// shell's group, the foreground job and background jobs), then SIGKILL
// after Config.KillGrace. It returns at once; Done tells when it is over.
func (s *Session) Kill() {
	s.killOnce.Do(func() {
		s.exiting.Store(true)
		go func() {
			s.signalAll(unix.SIGHUP)
			t := time.NewTimer(s.m.cfg.KillGrace)
			defer t.Stop()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			s.log.Info("session survived SIGHUP; sending SIGKILL")
			s.signalAll(unix.SIGKILL)
		}()
	})
}

// signal sends sig to the shell's process group (while the shell is not
// reaped, so its pid cannot have been reused) and to the terminal's
// foreground job.
func (s *Session) signal(sig unix.Signal) {
	s.reapMu.RLock()
	if !s.reaped.Load() {
		unix.Kill(-s.pid, sig)
	}
	s.reapMu.RUnlock()
	if fg := foregroundPgrp(s.master); fg > 0 && fg != s.pid {
		unix.Kill(-fg, sig)
	}
}

// signalAll also reaches jobs in process groups of their own: the members
// of the shell's session, found by its id while the shell is unreaped.
func (s *Session) signalAll(sig unix.Signal) {
	s.signal(sig)
	s.reapMu.RLock()
	defer s.reapMu.RUnlock()
	if s.reaped.Load() {
		return
	}
	for _, pid := range sessionMembers(s.pid) {
		unix.Kill(pid, sig)
	}
}

// pump is the one reader of the PTY. Each attachment gets the bytes
// appended to its own queue (or is marked lagging); before each read it
// waits while every client that sets the pace is full (see pace.go). It
// reads through the raw conn so an idle session holds no read buffer, and
// once the shell has been quiet for Config.PumpIdle its goroutine ends
// until the next output (park.go).
func (s *Session) pump() {
	if s.pumpRun() {
		return
	}
	close(s.pumpDone)
}

// What the pump's read deadline is set for.
const (
	dlNone  = iota // none
	dlHeld         // to let a held sequence through (heldFlush)
	dlIdle         // to park if the shell is still quiet (Config.PumpIdle)
	dlStale        // passed or overwritten: set it again before reading
)

// pumpRun reads until the terminal ends (false) or the pump parks (true).
func (s *Session) pumpRun() (parked bool) {
	rc := s.rawMaster
	idle := s.m.cfg.PumpIdle
	canPark := idle > 0
	// With lastOutput, when the pump last had a reason to stay: the shell
	// wrote, the pump started, or it waited for clients.
	active := time.Now().UnixNano()
	dl := dlStale
	for {
		if s.pace() {
			active = time.Now().UnixNano()
		}
		if s.gate.requested() {
			s.gate.park(s.master)
			dl, active = dlNone, time.Now().UnixNano()
		}
		// A sequence cut at the end of the last read is held back until its
		// end arrives; if the program stops there, let it through soon.
		want := dlNone
		if s.filter.held() {
			want = dlHeld
		} else if canPark {
			want = dlIdle
		}
		if want != dl {
			var t time.Time
			switch want {
			case dlHeld:
				t = time.Now().Add(heldFlush)
			case dlIdle:
				t = time.Unix(0, max(active, s.lastOutput.Load())).Add(idle)
			}
			s.master.SetReadDeadline(t)
			dl = want
			if s.gate.requested() {
				continue // its deadline may have been overwritten just now
			}
		}
		var bp *[]byte
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			if bp == nil {
				bp = s.m.bufs.Get().(*[]byte)
			}
			buf := *bp
			n, rerr = unix.Read(int(fd), buf)
			if rerr == unix.EAGAIN || rerr == unix.EINTR {
				s.m.bufs.Put(bp)
				bp = nil
				return false
			}
			// A read this large means the program is writing faster than
			// we read: take what else is there now, so one pass (one lock,
			// one wakeup per client, one packet on the wire) carries more.
			// A keystroke's echo never gets here.
			for rerr == nil && n >= drainAfter && len(buf)-n >= drainRoom {
				m, err := unix.Read(int(fd), buf[n:])
				if m <= 0 || err != nil {
					break // EAGAIN; an error comes again on the next read
				}
				n += m
			}
			return true
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			switch {
			case s.gate.requested():
				// Held bytes stay held, to be handed over.
			case dl == dlHeld:
				s.publish(s.filter.flush(), nil)
			case dl == dlIdle && time.Now().UnixNano()-max(active, s.lastOutput.Load()) >= int64(idle):
				switch s.parkPump() {
				case parkDone:
					return true
				case parkUnavailable:
					canPark = false
				}
			}
			dl = dlStale
			continue
		}
		if err == nil && rerr == nil && n > 0 {
			out, qs := s.filter.feed((*bp)[:n])
			s.publish(out, qs)
		}
		if bp != nil {
			s.m.bufs.Put(bp)
		}
		if err != nil || rerr != nil || n <= 0 {
			// EIO: every slave descriptor is closed and everything written
			// before that has been read. ErrClosed: we gave up waiting.
			if s.filter.held() {
				s.publish(s.filter.flush(), nil)
			}
			return false
		}
	}
}

// drainAfter is the first read after which the pump reads on while the PTY
// has more, as long as drainRoom is left in the buffer. A PTY read returns
// up to about 18 KiB here, usually 2-4 KiB. Measured with OpenSSH's client
// and `cat` of 64 MiB: batches of up to 64 KiB cut the server's CPU by 7%
// and raised throughput by 6% over batches of 16 KiB.
const (
	drainAfter = 2 << 10
	drainRoom  = 4 << 10
)

// heldFlush is how long an incomplete escape sequence at the end of the
// output waits for its end before it is passed on as it is.
const heldFlush = 30 * time.Millisecond

// publish puts filtered output into the screen, the ring, every
// attachment's queue (queries only to the answerer) and the recording.
func (s *Session) publish(out []byte, qs []query) {
	if len(out) == 0 && len(qs) == 0 {
		return
	}
	now := time.Now().UnixNano()
	s.lastOutput.Store(now)
	s.outputSeen(now)
	s.m.stats.outBytes.Add(uint64(len(out)))
	// Recorded before any client can see it: a recording switched on by
	// someone who has seen this output must not hold it.
	if s.rec != nil {
		s.rec.output(out)
	}
	s.mu.Lock()
	start := s.seq
	if len(out) > 0 {
		s.screenOutputLocked(out)
		s.ring.write(out)
		s.seq += int64(len(out))
	}
	var answerer *Attachment
	if len(qs) > 0 {
		answerer = s.latestFast.Load()
	}
	offers := directPerRead
	for _, a := range s.atts {
		if a.push(out, start, s.seq, qs, a == answerer, offers > 0) {
			offers--
		}
	}
	s.mu.Unlock()
	if s.marks != nil && (s.filter.osc || s.marks.held()) {
		s.marks.scan(out, start)
	}
}

// wait reaps the shell, lets the pump read everything the shell's processes
// wrote, then delivers the exit. exited says the shell is known to have
// exited (readyWatch.exited said so); otherwise the reaping waits for it, blocking a
// thread for the shell's life.
func (s *Session) wait(exited bool) {
	if exited {
		// A hand-over must find its shells unreaped (the next image waits
		// for them), so the reaping and the end wait for it to finish.
		s.m.handover.RLock()
		defer s.m.handover.RUnlock()
	}
	// Learn of the exit without reaping: the shell stays a zombie, so its
	// pid, and with it the group and session ids its jobs carry, cannot
	// be another process's while drain hangs up and kills what is left
	// (see procwait).
	if err := procwait.Exited(s.pid); err != nil {
		s.log.Error("wait for shell", "err", err)
	}
	s.exiting.Store(true)
	s.drain()
	s.reapMu.Lock()
	err := s.cmd.Wait()
	s.reaped.Store(true)
	s.reapMu.Unlock()
	st := exitStatusOf(s.cmd.ProcessState)
	if err != nil && s.cmd.ProcessState == nil {
		s.log.Error("wait for shell", "err", err)
	}
	s.screen.feeders.Wait()
	s.closeMaster()
	if s.rec != nil {
		s.rec.close()
	}
	if s.agent != nil {
		s.agent.close()
	}
	s.mu.Lock()
	s.result = &st
	atts := slices.Clone(s.atts)
	if s.screen.idle != nil {
		s.screen.idle.Stop()
	}
	s.mu.Unlock()
	for _, a := range atts {
		a.setExit(st)
	}
	s.log.Info("session ended", "exit", st.code, "signal", st.signal)
	s.m.ended(s)
	close(s.done)
	// Told last: whoever hears of the end finds the session gone and Done
	// closed.
	s.m.changed(s)
}

// drainWait is how long the terminal may stay open after the shell exited
// before the processes still holding it are hung up.
const drainWait = time.Second

// drain waits for the pump to see EIO. Normally that is immediate; when a
// background job still holds the terminal it is hung up (as closing a real
// terminal would), then killed, then the PTY is closed under it. Time the
// pump spends waiting for a client does not count: the last output is
// still flowing, at that client's pace (a stalled client stops holding it
// after Config.StallTimeout).
func (s *Session) drain() {
	wait := func(d time.Duration) bool {
		start := time.Now()
		paused := s.pausedTotal(start)
		for {
			now := time.Now()
			left := d - (now.Sub(start) - (s.pausedTotal(now) - paused))
			if left <= 0 {
				return false
			}
			t := time.NewTimer(left)
			select {
			case <-s.pumpDone:
				t.Stop()
				return true
			case <-t.C:
			}
		}
	}
	if wait(drainWait) {
		return
	}
	s.signalAll(unix.SIGHUP)
	if wait(s.m.cfg.KillGrace) {
		return
	}
	s.signalAll(unix.SIGKILL)
	if wait(time.Second) {
		return
	}
	s.unpace()
	s.closeMaster()
	<-s.pumpDone
}

// closeMaster closes the terminal. Input racing it fails with the poller's
// unwrapped "use of closed file"; the flag, set first, lets inputError
// answer ErrClosed for it.
func (s *Session) closeMaster() {
	s.masterClosed.Store(true)
	took := s.takePump(true) // out of epoll's set while the descriptor is still ours
	s.master.Close()
	if took {
		// What the pump would do on ErrClosed: it parks with nothing held.
		close(s.pumpDone)
	}
}

func exitStatusOf(ps *os.ProcessState) exitStatus {
	if ps == nil { // Wait itself failed
		return exitStatus{code: -1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitStatus{code: 128 + int(ws.Signal()), signal: unix.SignalName(ws.Signal())}
	}
	return exitStatus{code: ps.ExitCode()}
}

// idleWatch ends the session once it has had no attachment and no output
// for d.
func (s *Session) idleWatch(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		attached := len(s.atts)
		s.mu.Unlock()
		wait := d
		if attached == 0 {
			last := max(s.lastOutput.Load(), s.lastDetach.Load())
			idle := time.Since(time.Unix(0, last))
			if idle >= d {
				s.log.Info("session idle; ending it", "idle", idle.Round(time.Second))
				s.Kill()
				return
			}
			wait = d - idle
		}
		t.Reset(wait)
	}
}

// activateLocked makes a (writable) the most recently active attachment:
// its size becomes the session's and it answers terminal queries.
func (s *Session) activateLocked(a *Attachment) {
	s.stamp++
	a.stamp = s.stamp
	s.updateLatestLocked()
}

// updateLatestLocked applies tmux's "latest" policy after any change: the
// most recently active writable attachment answers queries, and the most
// recently active one that told its size sets the window size.
func (s *Session) updateLatestLocked() {
	var latest, sized *Attachment
	for _, a := range s.atts {
		if a.readOnly {
			continue
		}
		if latest == nil || a.stamp > latest.stamp {
			latest = a
		}
		if a.cols > 0 && (sized == nil || a.stamp > sized.stamp) {
			sized = a
		}
	}
	s.latestFast.Store(latest)
	if sized != nil {
		s.resizeLocked(sized.cols, sized.rows)
	}
	s.updateViewsLocked()
}

// updateViewsLocked decides, after any change of size, which clients get
// views instead of the output (see AttachOptions.Viewport): those whose
// window is not the session's size. Each client thus sees a correct
// screen at its own size, and the most recently active one, whose size
// the session has, all of it. A client that becomes or stays a view, or
// stops being one, is repainted.
func (s *Session) updateViewsLocked() {
	for _, a := range s.atts {
		view := a.viewport && a.cols > 0 && (a.cols != s.cols || a.rows != s.rows)
		if !view && !a.view {
			continue
		}
		a.view = view
		a.mu.Lock()
		a.repaint = true
		a.mu.Unlock()
		a.wake()
	}
}

// resizeLocked resizes the PTY and the emulator together.
func (s *Session) resizeLocked(cols, rows int) {
	if cols == s.cols && rows == s.rows || s.gate.requested() {
		return // frozen for a hand-over: the next image gets the size it was told
	}
	if err := setWinsize(s.master, cols, rows); err != nil {
		if !s.exiting.Load() {
			s.log.Warn("resize failed", "err", err)
		}
		return
	}
	s.lockScreen().Resize(cols, rows)
	s.screen.mu.Unlock()
	s.cols, s.rows = cols, rows
	if s.rec != nil {
		s.rec.resize(cols, rows)
	}
	s.m.changed(s)
}

// detach removes a; the size falls back to the next most recent client.
func (s *Session) detach(a *Attachment) {
	s.m.forget(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.atts, a)
	if i < 0 {
		return
	}
	s.atts = slices.Delete(s.atts, i, i+1)
	if len(s.atts) == 0 {
		s.atts = nil
		s.lastDetach.Store(time.Now().UnixNano())
	}
	s.updateLatestLocked()
	s.m.changed(s)
	s.resume() // it may have been the one holding the pump
}
