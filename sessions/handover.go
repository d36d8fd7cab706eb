package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A hand-over moves every live session to a new image of the server
// program in the same process (execve keeps the PID, so the shells stay its
// children): Export freezes the sessions and describes them, the new image
// Imports them. The PTY masters travel as descriptors beside the data.

// HandoverVersion is the format of Handover.Data. Import refuses any other,
// and the server checks that the next program accepts it before the exec.
const HandoverVersion = 1

// Handover is the frozen state of every session.
type Handover struct {
	Data  []byte     // JSON, format HandoverVersion
	Files []*os.File // the PTY masters Data refers to by index; close-on-exec
	PIDs  []int      // the shells, which the next image reaps

	m      *Manager
	frozen []*Session
	done   bool
}

type handoverState struct {
	Version  int
	Sessions []handoverSession
}

type handoverSession struct {
	ID, WorkspaceID, UserID, Name, Shell string
	PID                                  int
	Master                               int // index in Handover.Files
	Cols, Rows                           int
	Created                              time.Time
	LastInput, LastOutput                time.Time
	Seq                                  int64  // output offset
	Ring                                 []byte // the replay ring, ending at Seq
	Screen                               []byte // the emulator's repaint with all its scrollback, at Seq
	Held                                 []byte // the start of an escape sequence the pump held back, after Seq
	Killed                               bool   // Kill was called: the next image ends it again
	// Attachments are the clients attached at the switch. They do not move
	// (their connections end with the old image); kept so the next image
	// can say who is expected back.
	Attachments []handoverAttachment
	Recording   *handoverRecording
	// Agent is the index in Handover.Files of the listening socket behind
	// the shell's SSH_AUTH_SOCK, -1 for none; AgentDir holds it.
	Agent    int
	AgentDir string
	// Marks: the shell loaded the integration and prints command marks.
	// The commands seen so far stay behind; tracking starts afresh.
	Marks bool
}

type handoverAttachment struct {
	ReadOnly   bool
	Cols, Rows int
}

type handoverRecording struct {
	Path, Shell string
	Start       time.Time
	Cols, Rows  int
	Opened, On  bool   // the file was started; output is being recorded
	Tail        []byte // an incomplete UTF-8 sequence not yet written
}

// Export freezes every session for a hand-over: no session is created or
// reaped, no pump reads its PTY, until the process execs or Resume is
// called. The caller execs with Files open across the exec.
func (m *Manager) Export() (*Handover, error) {
	m.handover.Lock()
	m.mu.Lock()
	list := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		list = append(list, s)
	}
	m.mu.Unlock()
	slices.SortFunc(list, func(a, b *Session) int { return int(a.order - b.order) })
	h := &Handover{m: m, frozen: list}
	// All at once: each pump parks as soon as its read returns.
	for _, s := range list {
		s.gate.request(s)
	}
	for _, s := range list {
		s.gate.await(s)
	}
	st := handoverState{Version: HandoverVersion}
	for _, s := range list {
		fd, err := dupCloexec(s.rawMaster)
		if err != nil {
			h.Resume()
			return nil, fmt.Errorf("hand over session %s: %w", s.id, err)
		}
		h.Files = append(h.Files, os.NewFile(uintptr(fd), "/dev/ptmx"))
		h.PIDs = append(h.PIDs, s.pid)
		hs := s.export()
		hs.Master = len(h.Files) - 1
		hs.Agent = -1
		if f := s.agent.file(); f != nil {
			h.Files = append(h.Files, f)
			hs.Agent, hs.AgentDir = len(h.Files)-1, s.agent.dir
		}
		st.Sessions = append(st.Sessions, hs)
	}
	data, err := json.Marshal(st)
	if err != nil {
		h.Resume()
		return nil, fmt.Errorf("hand over sessions: %w", err)
	}
	h.Data = data
	return h, nil
}

// Resume undoes Export after a failed exec: the sessions go on in this
// image. Recordings reopen their files.
func (h *Handover) Resume() {
	if h.done {
		return
	}
	h.done = true
	for _, f := range h.Files {
		f.Close()
	}
	for _, s := range h.frozen {
		if r := s.recHandoff; r != nil {
			s.resumeRecording(r)
		}
		s.gate.thaw()
		s.mu.Lock()
		s.updateLatestLocked() // a size refused while frozen
		s.mu.Unlock()
	}
	h.m.handover.Unlock()
}

// export describes a frozen session; its recording is flushed and closed.
func (s *Session) export() handoverSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := handoverSession{
		ID: s.id, WorkspaceID: s.workspaceID, UserID: s.userID, Name: s.name, Shell: s.shell,
		PID: s.pid, Cols: s.cols, Rows: s.rows, Created: s.created,
		LastInput:  time.Unix(0, s.lastInput.Load()),
		LastOutput: time.Unix(0, s.lastOutput.Load()),
		Seq:        s.seq,
		Held:       slices.Clone(s.filter.pend),
		Killed:     s.exiting.Load(),
		Marks:      s.marks != nil,
	}
	a, b, _ := s.ring.slices(s.ring.end - int64(s.ring.held()))
	hs.Ring = append(slices.Clone(a), b...)
	hs.Screen = s.lockScreen().AppendRepaint(nil, s.m.cfg.Scrollback)
	s.screen.mu.Unlock()
	for _, at := range s.atts {
		hs.Attachments = append(hs.Attachments, handoverAttachment{ReadOnly: at.readOnly, Cols: at.cols, Rows: at.rows})
	}
	if s.rec != nil {
		hs.Recording = s.rec.handOff()
		s.rec, s.recHandoff = nil, hs.Recording
	}
	return hs
}

func (s *Session) resumeRecording(r *handoverRecording) {
	rec, err := resumeRecorder(r, s.log)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recHandoff = nil
	if err != nil {
		s.log.Warn("recording not continued", "err", err)
		return
	}
	s.rec = rec
}

// Import takes over the sessions a previous image of the program exported:
// files are its Files, open in this process. It returns how many sessions
// now run here. Files it does not use are closed.
func (m *Manager) Import(ctx context.Context, data []byte, files []*os.File) (int, error) {
	used := make([]bool, len(files))
	defer func() {
		for i, f := range files {
			if !used[i] {
				f.Close()
			}
		}
	}()
	var st handoverState
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, fmt.Errorf("import sessions: %w", err)
	}
	if st.Version != HandoverVersion {
		return 0, fmt.Errorf("import sessions: format %d, want %d", st.Version, HandoverVersion)
	}
	n := 0
	var errs []error
	for _, hs := range st.Sessions {
		if hs.Master < 0 || hs.Master >= len(files) || used[hs.Master] {
			errs = append(errs, fmt.Errorf("import session %s: no terminal", hs.ID))
			continue
		}
		used[hs.Master] = true
		var agent *os.File
		if hs.Agent >= 0 && hs.Agent < len(files) && !used[hs.Agent] {
			used[hs.Agent] = true
			agent = files[hs.Agent]
		}
		if err := m.importSession(ctx, hs, files[hs.Master], agent); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (m *Manager) importSession(ctx context.Context, hs handoverSession, master, agent *os.File) error {
	fail := func(err error) error {
		master.Close()
		if agent != nil {
			agent.Close()
		}
		return fmt.Errorf("import session %s: %w", hs.ID, err)
	}
	if !validSize(hs.Cols, hs.Rows) || hs.PID <= 0 {
		return fail(fmt.Errorf("size %dx%d, pid %d: %w", hs.Cols, hs.Rows, hs.PID, ErrInvalidSize))
	}
	proc, err := os.FindProcess(hs.PID)
	if err != nil {
		return fail(err)
	}
	raw, err := master.SyscallConn()
	if err != nil {
		return fail(err)
	}
	opts := SpawnOptions{UserID: hs.UserID, WorkspaceID: hs.WorkspaceID, Name: hs.Name, Cols: hs.Cols, Rows: hs.Rows}
	// A Cmd around the inherited process: Wait reaps it like one we started.
	s := newSession(m, hs.ID, opts, hs.Shell, &child{cmd: &exec.Cmd{Process: proc}, master: master, raw: raw})
	s.created = hs.Created
	s.lastInput.Store(hs.LastInput.UnixNano())
	s.lastOutput.Store(hs.LastOutput.UnixNano())
	s.lastDetach.Store(time.Now().UnixNano()) // every client left at the switch
	s.seq = hs.Seq
	s.ring.end = hs.Seq - int64(len(hs.Ring))
	s.ring.write(hs.Ring)
	// The repaint redraws the screen, and its scrollback scrolls into the
	// new emulator's own.
	s.screen.term.Write(hs.Screen)
	s.screen.fed.Store(hs.Seq)
	s.screen.claimed = hs.Seq
	s.filter.pend = slices.Clone(hs.Held)
	if hs.Marks {
		s.marks = &markScanner{t: &commandTracker{s: s}}
	}
	if agent != nil {
		// The shell's SSH_AUTH_SOCK names the same socket: its listener
		// goes on in this image.
		r, err := agentRelayFromFile(agent, hs.AgentDir, &m.ready)
		if err != nil {
			m.log.Warn("imported session without agent socket", "session", hs.ID, "err", err)
		}
		s.agent = r
	}
	if r := hs.Recording; r != nil {
		s.resumeRecording(r)
	}
	if err := m.persist(ctx, s); err != nil {
		m.log.Warn("imported session not saved", "session", s.id, "err", err)
	}
	m.mu.Lock()
	m.addLocked(s)
	m.mu.Unlock()
	s.start()
	if hs.Killed {
		s.Kill()
	}
	viewers := 0
	for _, a := range hs.Attachments {
		if a.ReadOnly {
			viewers++
		}
	}
	m.log.Info("session taken over", "session", s.id, "pid", s.pid, "seq", hs.Seq,
		"clients", len(hs.Attachments)-viewers, "viewers", viewers)
	m.changed(s)
	return nil
}

// dupCloexec duplicates a PTY master's descriptor (close-on-exec: whoever
// hands it over clears that just before the exec).
func dupCloexec(rc interface{ Control(func(uintptr)) error }) (int, error) {
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("dup pty master: %w", derr)
	}
	return fd, nil
}

// pumpGate stops a session's pump between two reads, so that nothing read
// from the PTY is left outside the ring when the state is taken.
type pumpGate struct {
	req    atomic.Bool
	parked chan struct{} // closed by the pump once parked
	resume chan struct{} // closed by thaw
}

func (g *pumpGate) requested() bool { return g.req.Load() }

// request asks the pump to park.
func (g *pumpGate) request(s *Session) {
	g.parked, g.resume = make(chan struct{}), make(chan struct{})
	g.req.Store(true)
	// A read in progress returns at once, and a pump waiting for its
	// clients (pace) wakes; either way it sees req before the next read.
	s.master.SetReadDeadline(time.Unix(1, 0))
	s.resume()
	// A parked pump has no read to interrupt: start it, to park here.
	if s.takePump(false) {
		go s.pump()
	}
}

// await waits until the pump has parked (or has ended).
func (g *pumpGate) await(s *Session) {
	select {
	case <-g.parked:
	case <-s.pumpDone:
	}
}

// park is the pump's side: it waits for thaw, then clears the deadline.
func (g *pumpGate) park(master *os.File) {
	resume := g.resume // read before parked is closed: the next request sets it anew
	close(g.parked)
	<-resume
	master.SetReadDeadline(time.Time{})
}

func (g *pumpGate) thaw() {
	if g.req.Swap(false) {
		close(g.resume)
	}
}
