package webbridge

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// termView is one socket's attachment to one session: the goroutine that
// relays output, and the one that writes input, each running only while
// there is something to do.
type termView struct {
	c      *client
	sess   *sessions.Session
	att    *sessions.Attachment
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the output loop has finished
	queued atomic.Int32  // input requests given to writeInput and not yet written
	role   sessions.Role

	// Input the terminal did not take at once, oldest first: a slice
	// that exists only while input waits, where a buffered channel of
	// inputBacklog requests cost every attached terminal 2 KiB for its life.
	inMu    sync.Mutex
	input   []inputReq
	writing bool // writeInput runs (queueInput starts it); under inMu

	// The output encoder and the held-back tail belong to relayOutput (one
	// at a time: see relayIdle), and to direct while relayOutput waits in
	// Next (see AttachOptions.Direct).
	enc   *outputEncoder
	tail  [utf8.UTFMax]byte // an incomplete character held back
	ntail int
	// shared encodes output once for all the session's sockets; set by
	// start.
	shared *sharedOutput
}

// relayIdle is how long (by default: SocketConfig.RelayIdle) the output
// relay waits with nothing to send before its goroutine leaves; the
// session core starts it again when something comes (AttachOptions.Wake).
// An idle browser terminal thus keeps no stack for its output; a
// keystroke's echo after a pause costs a goroutine start, and Direct
// (which needs the relay in Next) resumes with the next one. As long as
// the pump's PumpIdle, so a shell that stays quiet gives back both at
// about the same time.
const relayIdle = 2 * time.Second

type inputReq struct {
	data []byte
	r    *reply
}

// inputBacklog bounds the writes waiting for a shell that does not read
// (each at most MaxInputBytes).
const inputBacklog = 64

// stop detaches and waits for the output loop to end (closing the
// attachment brings back a relay that left), so a re-attach never
// interleaves with the old stream.
func (v *termView) stop() {
	v.cancel()
	v.att.Close()
	<-v.done
}

// attach attaches the socket to a session, replacing an earlier attachment
// of this socket to it. The caller announces it, then calls start.
func (c *client) attach(sess *sessions.Session, opts sessions.AttachOptions) (*termView, error) {
	id := sess.ID()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, socketio.ErrDisconnected
	}
	old := c.terms[id]
	delete(c.terms, id)
	c.mu.Unlock()
	if old != nil {
		old.stop()
	}
	opts.Scrollback = c.srv.Socket.Scrollback
	opts.Client = "socket"
	v := &termView{c: c, sess: sess, done: make(chan struct{}),
		enc: newOutputEncoder(id, c.binary)}
	opts.Direct = v.direct
	opts.LeaveAfter, opts.Wake = c.srv.Socket.RelayIdle, func() { go v.relay() }
	att, role, err := c.srv.Sessions.AttachAs(c.ctx, sess, c.who(), opts)
	if err != nil {
		return nil, err
	}
	v.role = role
	ctx, cancel := context.WithCancel(c.ctx)
	v.att, v.ctx, v.cancel = att, ctx, cancel
	c.mu.Lock()
	if c.closed || c.terms[id] != nil {
		c.mu.Unlock()
		cancel()
		att.Close()
		return nil, socketio.ErrDisconnected
	}
	if c.terms == nil {
		c.terms = map[string]*termView{}
	}
	c.terms[id] = v
	c.mu.Unlock()
	c.sock.Join(sessionRoom(id))
	return v, nil
}

// start runs the view's output relay; writeInput runs only while input
// waits (see queueInput). The server's wait group counts the view until it
// ends, not the relay's goroutines, which come and go.
func (v *termView) start() {
	// Set before the first Next, so direct (called only while the relay
	// waits in Next, under the attachment's lock) sees it.
	v.shared = v.c.srv.outputs.acquire(v.sess.ID())
	v.c.srv.wg.Add(1)
	go v.relay()
}

// relay runs relayOutput, and ends the view when relayOutput has ended
// for good rather than left for being idle.
func (v *termView) relay() {
	if !v.relayOutput() {
		return
	}
	v.c.srv.outputs.release(v.sess.ID(), v.shared)
	v.c.forget(v)
	v.att.Close()
	close(v.done)
	v.c.srv.wg.Done()
}

// queueInput hands input the terminal did not take at once to writeInput,
// starting it if it is not running: an idle terminal keeps no goroutine
// (and no stack) waiting for input. It reports false if the backlog is
// full.
func (v *termView) queueInput(req inputReq) bool {
	v.inMu.Lock()
	if len(v.input) >= inputBacklog {
		v.inMu.Unlock()
		return false
	}
	v.queued.Add(1)
	v.input = append(v.input, req)
	start := !v.writing
	v.writing = true
	v.inMu.Unlock()
	if start {
		wg := &v.c.srv.wg
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.writeInput()
		}()
	}
	return true
}

func (c *client) view(id string) *termView {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terms[id]
}

// forget drops v if it is still the socket's view of its session.
func (c *client) forget(v *termView) {
	id := v.sess.ID()
	c.mu.Lock()
	current := c.terms[id] == v
	if current {
		delete(c.terms, id)
	}
	c.mu.Unlock()
	if current {
		c.sock.Leave(sessionRoom(id))
	}
}

// relayOutput is the hot path: everything Next returns goes out as one
// terminal-output. EmitContext waits for room in the connection's queue,
// which drains only as the websocket writer takes frames or a polling GET
// collects them, so this loop takes from the attachment queue at the real
// client's pace: the core sees a slow client as one whose queue fills,
// waits for it while it is the fastest, and repaints it when it falls
// behind a faster one. It reports whether the view has ended; false means
// it left for being idle and touches nothing more.
func (v *termView) relayOutput() bool {
	c, id := v.c, v.sess.ID()
	var join []byte // tail + the next chunk
	send := func(data []byte, seq int64, kind string) bool {
		if kind == "" {
			return v.sendOutput(data, seq, true) == nil
		}
		err := c.sock.EmitContext(v.ctx, "terminal-output", v.enc.payload(data, seq, kind, time.Now()))
		return err == nil
	}
	for {
		ch, err := v.att.Next(v.ctx)
		if err != nil {
			if errors.Is(err, sessions.ErrIdle) {
				return false
			}
			// io.EOF after the exit, ErrClosed on detach, or disconnected.
			// Closed by the core while the socket still wants it: a
			// guest whose share ended or changed role.
			if errors.Is(err, sessions.ErrClosed) && v.ctx.Err() == nil {
				c.emit("terminal-detached", map[string]string{"sessionId": id, "reason": "unshared"})
			}
			return true
		}
		ok := true
		switch ch.Kind {
		case sessions.ChunkOutput:
			data := ch.Data
			if v.ntail > 0 {
				join = append(append(join[:0], v.tail[:v.ntail]...), data...)
				data = join
			}
			n := 0
			if !v.enc.binary {
				n = incompleteTail(data)
			}
			v.ntail = copy(v.tail[:], data[len(data)-n:])
			if len(data) > n {
				ok = send(data[:len(data)-n], ch.Seq-int64(n), "")
			}
		case sessions.ChunkRepaint:
			v.ntail = 0 // the repaint supersedes it
			ok = send(ch.Data, ch.Seq, "repaint")
		case sessions.ChunkQuery:
			// Queries do not move the offset; a held tail is not sent yet.
			ok = send(ch.Data, ch.Seq-int64(v.ntail), "query")
		case sessions.ChunkExit:
			if v.ntail > 0 {
				ok = send(v.tail[:v.ntail], ch.Seq, "")
			}
			v.ntail = 0
		}
		if !ok {
			return true
		}
		if ch.Kind != sessions.ChunkExit {
			continue
		}
		var sig any // null when no signal, as in the protocol
		if ch.Signal != "" {
			sig = ch.Signal
		}
		if c.sock.EmitContext(v.ctx, "process-exit", map[string]any{
			"sessionId": id, "pid": v.sess.Info().PID, "exitCode": ch.ExitCode, "signal": sig,
		}) != nil {
			return true
		}
		// Report the end while still in the session's room: leaving it
		// first would keep the terminated status from its viewers.
		select {
		case <-v.sess.Done():
			c.srv.syncSession(c.user.ID, v.sess)
		case <-v.ctx.Done():
		}
	}
}

// direct is the core's AttachOptions.Direct: a small piece of output that
// would otherwise wake relayOutput goes into the connection's queue from the
// pump, if it takes it without waiting. relayOutput is then waiting in Next
// with everything before it sent, so the order holds.
func (v *termView) direct(data []byte, seq int64) bool {
	if v.ntail > 0 || (!v.enc.binary && incompleteTail(data) > 0) {
		return false
	}
	return v.sendOutput(data, seq, false) == nil
}

// sendOutput sends output ending at offset seq, in pieces encoded once for
// every socket attached to the session (see sharedOutput). wait says to
// wait for room in the connection's queue, as relayOutput does; direct
// must not, and sends all of data or nothing (one piece: the pump hands
// every attachment the same bytes anyway).
func (v *termView) sendOutput(data []byte, seq int64, wait bool) error {
	sock := v.c.sock
	if v.shared == nil || !v.shared.shared() {
		arg := v.enc.payload(data, seq, "", time.Now())
		if wait {
			return sock.EmitContext(v.ctx, "terminal-output", arg)
		}
		return sock.Emit("terminal-output", arg)
	}
	start := seq - int64(len(data))
	for len(data) > 0 {
		n := len(data)
		if wait {
			n = nextCut(data, start, v.enc.binary)
		}
		piece, end := data[:n], start+int64(n)
		p, err := v.shared.packet(end, n, v.enc.binary, func() (*socketio.Packet, error) {
			return sock.Namespace().EncodePacket("terminal-output", v.enc.payload(piece, end, "", time.Now()))
		})
		if err != nil {
			return err
		}
		if wait {
			err = sock.SendPacket(v.ctx, p)
		} else {
			err = sock.TrySendPacket(p)
		}
		p.Release()
		if err != nil {
			return err
		}
		data, start = data[n:], end
	}
	return nil
}

// writeInput writes input in order off the socket's reading goroutine: a
// shell that does not read would otherwise stall the connection, heartbeats
// included.
func (v *termView) writeInput() {
	for {
		select {
		case <-v.done:
			// Detached: what waits is never written, and no writer
			// starts again.
			return
		default:
		}
		v.inMu.Lock()
		if len(v.input) == 0 {
			v.input, v.writing = nil, false
			v.inMu.Unlock()
			return
		}
		req := v.input[0]
		v.input[0] = inputReq{}
		v.input = v.input[1:]
		v.inMu.Unlock()
		_, err := v.att.Write(req.data)
		v.queued.Add(-1)
		if err != nil {
			req.r.fail(sessionError(v.sess.ID(), err))
			continue
		}
		req.r.ok(nil)
	}
}

// tellStatus sends the session's current status to this socket, which asked
// for the change. The room reports come from a diff that the core's change
// events may already have taken, before this socket joined the rooms;
// sendStatus skips it when the rooms' report reached this socket.
func (c *client) tellStatus(sess *sessions.Session) {
	c.sendStatus(sess.Info())
}

// viewOrAttach returns the socket's view of a session, attaching it first
// if needed: a client that reconnected and types into its terminal without
// attach-terminal (as the original protocol had no such event) still works.
func (c *client) viewOrAttach(id string) (*termView, *wireError) {
	if v := c.view(id); v != nil {
		select {
		case <-v.sess.Done(): // ended: answered like a missing one, below
		default:
			return v, nil
		}
	}
	sess, _, err := c.srv.Sessions.Join(c.ctx, c.user.ID, id)
	if err != nil {
		return nil, sessionError(id, err)
	}
	v, err := c.attach(sess, sessions.AttachOptions{LastSeq: -1})
	if err != nil {
		return nil, sessionError(id, err)
	}
	c.emit("terminal-attached", attachedPayload(sess.Info(), v.att))
	v.start()
	return v, nil
}

// attachedPayload is terminal-attached's; clientId finds this socket in
// session-status's clients.
func attachedPayload(i sessions.Info, a *sessions.Attachment) map[string]any {
	return map[string]any{
		"sessionId": i.ID, "workspaceId": i.WorkspaceID, "shell": i.Shell, "pid": i.PID,
		"cols": i.Cols, "rows": i.Rows, "seq": i.Seq, "name": i.Name, "clientId": a.ID(),
	}
}

// terminalJSON describes a session in terminals-listed and REST.
type terminalJSON struct {
	ID           string `json:"id"`
	SessionID    string `json:"sessionId"`
	WorkspaceID  string `json:"workspaceId"`
	Name         string `json:"name"`
	Title        string `json:"title"`
	Shell        string `json:"shell"`
	PID          int    `json:"pid"`
	Cols         int    `json:"cols"`
	Rows         int    `json:"rows"`
	Status       string `json:"status"`
	Attached     int    `json:"attached"`
	Viewers      int    `json:"viewers"`
	Seq          int64  `json:"seq"`
	CreatedAt    string `json:"createdAt"`
	LastActivity string `json:"lastActivity"`
}

func toTerminalJSON(i sessions.Info) terminalJSON {
	return terminalJSON{ID: i.ID, SessionID: i.ID, WorkspaceID: i.WorkspaceID, Name: i.Name, Title: i.Title,
		Shell: i.Shell, PID: i.PID, Cols: i.Cols, Rows: i.Rows, Status: statusOf(i), Attached: i.Attached,
		Viewers: i.Viewers, Seq: i.Seq, CreatedAt: timestamp(i.CreatedAt), LastActivity: timestamp(i.LastActivity)}
}

func (s *Server) terminalsOf(userID, workspaceID string) []terminalJSON {
	list := s.Sessions.List(userID, workspaceID)
	out := make([]terminalJSON, 0, len(list))
	for _, sess := range list {
		out = append(out, toTerminalJSON(sess.Info()))
	}
	return out
}

// create-terminal {workspaceId, shell?, cols?, rows?, name?}
func (c *client) createTerminal(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Shell       string `json:"shell"`
		Cols        *int   `json:"cols"`
		Rows        *int   `json:"rows"`
		Name        string `json:"name"`
	}
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	r.workspaceID = p.WorkspaceID
	if e := firstError(requiredID("workspaceId", p.WorkspaceID), validSize(p.Cols, p.Rows), validName(p.Name)); e != nil {
		r.fail(e)
		return
	}
	if len(p.Shell) > maxIDLen {
		r.fail(invalidField("shell", "shell is too long"))
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.srv.ctx, 30*time.Second)
		defer cancel()
		ws, err := c.srv.workspace(ctx, c.user.ID, p.WorkspaceID)
		if err != nil {
			r.fail(c.workspaceFailure(p.WorkspaceID, err))
			return
		}
		opts := sessions.SpawnOptions{UserID: c.user.ID, WorkspaceID: ws.ID, Dir: ws.LocalPath, Shell: p.Shell,
			Name: p.Name, Cols: deref(p.Cols), Rows: deref(p.Rows)}
		if c.srv.HomeFor != nil {
			opts.Home = c.srv.HomeFor(c.user)
		}
		if opts.Account, err = c.srv.Accounts.For(ctx, c.user); err != nil {
			c.log.Error("create terminal: os account", "err", err)
			r.fail(sessionError("", err))
			return
		}
		sess, err := c.srv.Sessions.Create(ctx, opts)
		if err != nil {
			if e := sessionError("", err); e.Code == CodeInternal {
				c.log.Error("create terminal", "workspace", ws.ID, "err", err)
			} else {
				c.log.Info("create terminal refused", "workspace", ws.ID, "err", err)
			}
			r.fail(sessionError("", err))
			return
		}
		// The creator sees the stream from its first byte, prompt included.
		v, err := c.attach(sess, sessions.AttachOptions{LastSeq: 0, Cols: deref(p.Cols), Rows: deref(p.Rows)})
		if err != nil {
			return // disconnected meanwhile; the session lives on
		}
		i := sess.Info()
		created := map[string]any{"sessionId": i.ID, "workspaceId": i.WorkspaceID, "shell": i.Shell, "pid": i.PID,
			"cols": i.Cols, "rows": i.Rows, "name": i.Name, "clientId": v.att.ID()}
		c.emit("terminal-created", created)
		v.start()
		c.srv.syncSession(c.user.ID, sess)
		c.tellStatus(sess)
		r.ok(created) // after the status, so the client has it with the ack
	})
}

// attach-terminal {sessionId, lastSeq?, cols?, rows?, readOnly?}
func (c *client) attachTerminal(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
		LastSeq   *int64 `json:"lastSeq"`
		Cols      *int   `json:"cols"`
		Rows      *int   `json:"rows"`
		ReadOnly  bool   `json:"readOnly"`
	}
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	r.sessionID = p.SessionID
	if e := firstError(requiredID("sessionId", p.SessionID), validSize(p.Cols, p.Rows)); e != nil {
		r.fail(e)
		return
	}
	sess, _, err := c.srv.Sessions.Join(c.ctx, c.user.ID, p.SessionID)
	if err != nil {
		r.fail(sessionError(p.SessionID, err))
		return
	}
	opts := sessions.AttachOptions{LastSeq: -1, ReadOnly: p.ReadOnly, Cols: deref(p.Cols), Rows: deref(p.Rows)}
	if p.LastSeq != nil && *p.LastSeq >= 0 {
		opts.LastSeq = *p.LastSeq
	}
	v, err := c.attach(sess, opts)
	if err != nil {
		r.fail(sessionError(p.SessionID, err))
		return
	}
	payload := attachedPayload(sess.Info(), v.att)
	payload["role"] = string(v.role)
	payload["recording"] = sess.Recording()
	c.emit("terminal-attached", payload)
	// Who is attached now includes this socket, which may have joined the
	// session's room after the core's change was reported.
	c.tellStatus(sess)
	r.ok(payload)
	v.start()
	c.goWork(func() { c.srv.syncSession(c.user.ID, sess) })
}

// detach-terminal {sessionId}
func (c *client) detachTerminal(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	c.mu.Lock()
	v := c.terms[p.SessionID]
	delete(c.terms, p.SessionID)
	c.mu.Unlock()
	if v == nil {
		// Detaching twice is fine; detaching from a session one cannot
		// see is not.
		if _, _, err := c.srv.Sessions.Join(c.ctx, c.user.ID, p.SessionID); err != nil {
			r.fail(sessionError(p.SessionID, err))
			return
		}
	} else {
		c.sock.Leave(sessionRoom(p.SessionID))
		v.stop()
		c.goWork(func() { c.srv.syncSession(c.user.ID, v.sess) })
	}
	c.emit("terminal-detached", map[string]string{"sessionId": p.SessionID})
	r.ok(map[string]any{"sessionId": p.SessionID})
}

// terminal-input {sessionId, data}
func (c *client) terminalInput(m *socketio.Message, r *reply) {
	max := c.srv.Socket.MaxInputBytes
	// Refuse absurd payloads before decoding them; escaping can make JSON
	// up to six times the input.
	if m.Len() > 0 && len(m.Args[0]) > 6*max+1024 {
		r.fail(inputTooLarge(len(m.Args[0]), max))
		return
	}
	var p struct {
		SessionID string  `json:"sessionId"`
		Data      *string `json:"data"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	if p.Data == nil {
		r.fail(invalidField("data", "data is required"))
		return
	}
	if len(*p.Data) > max {
		r.fail(inputTooLarge(len(*p.Data), max))
		return
	}
	v, e := c.viewOrAttach(p.SessionID)
	if e != nil {
		r.fail(e)
		return
	}
	if v.att.ReadOnly() {
		r.fail(readOnly(p.SessionID))
		return
	}
	if strings.ContainsAny(*p.Data, "\r\n") {
		c.srv.kickWorkspace(v.sess.WorkspaceID()) // a command ran: git status may change
	}
	data := []byte(*p.Data)
	// A keystroke goes straight to the terminal when nothing is waiting
	// before it (this goroutine alone queues input, so the order holds);
	// what the terminal does not take at once goes to writeInput.
	if v.queued.Load() == 0 {
		n, err := v.att.TryWrite(data)
		if err != nil {
			r.fail(sessionError(v.sess.ID(), err))
			return
		}
		if n == len(data) {
			r.ok(nil)
			return
		}
		data = data[n:]
	}
	if !v.queueInput(inputReq{data: data, r: r}) {
		r.fail(&wireError{Code: CodeInputBacklog, Message: "The terminal is not reading its input",
			Details: "too much input is waiting for the shell"})
	}
}

func inputTooLarge(n, max int) *wireError {
	return &wireError{Code: CodeInputTooLarge, Message: "Terminal input too large",
		Details: "input of " + strconv.Itoa(n) + " bytes exceeds the limit of " + strconv.Itoa(max), Field: "data"}
}

// terminal-resize {sessionId, cols, rows}
func (c *client) terminalResize(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
		Cols      *int   `json:"cols"`
		Rows      *int   `json:"rows"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	if p.Cols == nil {
		r.fail(invalidField("cols", "cols is required"))
		return
	}
	if e := validSize(p.Cols, p.Rows); e != nil {
		r.fail(e)
		return
	}
	v, e := c.viewOrAttach(p.SessionID)
	if e != nil {
		r.fail(e)
		return
	}
	if v.att.ReadOnly() {
		r.fail(readOnly(p.SessionID))
		return
	}
	if err := v.att.Resize(*p.Cols, *p.Rows); err != nil {
		r.fail(sessionError(p.SessionID, err))
		return
	}
	r.ok(map[string]any{"sessionId": p.SessionID, "cols": *p.Cols, "rows": *p.Rows})
}

// kill-terminal {sessionId}
func (c *client) killTerminal(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	sess, err := c.srv.Sessions.Get(c.user.ID, p.SessionID)
	if err == nil {
		err = c.srv.Sessions.KillAs(c.who(), p.SessionID)
	}
	if err != nil {
		r.fail(sessionError(p.SessionID, err))
		return
	}
	c.log.Info("terminal killed", "session", p.SessionID)
	c.goWork(func() {
		select {
		case <-sess.Done():
		case <-c.srv.ctx.Done():
			return
		}
		i := sess.Info()
		killed := map[string]any{"sessionId": i.ID, "exitCode": i.ExitCode, "signal": i.Signal}
		c.emit("terminal-killed", killed)
		r.ok(killed)
		c.srv.syncSession(c.user.ID, sess)
	})
}

// list-terminals {workspaceId}
func (c *client) listTerminals(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
	}
	if !decodeWorkspaceEvent(m, r, &p, &p.WorkspaceID) {
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.srv.ctx, 10*time.Second)
		defer cancel()
		if _, err := c.srv.workspace(ctx, c.user.ID, p.WorkspaceID); err != nil {
			r.fail(c.workspaceFailure(p.WorkspaceID, err))
			return
		}
		list := map[string]any{"workspaceId": p.WorkspaceID, "terminals": c.srv.terminalsOf(c.user.ID, p.WorkspaceID)}
		c.emit("terminals-listed", list)
		r.ok(list)
	})
}

// rename-terminal {sessionId, name}
func (c *client) renameTerminal(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string  `json:"sessionId"`
		Name      *string `json:"name"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	if p.Name == nil {
		r.fail(invalidField("name", "name is required"))
		return
	}
	if e := validName(*p.Name); e != nil {
		r.fail(e)
		return
	}
	sess, err := c.srv.Sessions.Get(c.user.ID, p.SessionID)
	if err != nil {
		r.fail(sessionError(p.SessionID, err))
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.srv.ctx, 10*time.Second)
		defer cancel()
		if err := sess.Rename(ctx, *p.Name); err != nil {
			c.log.Error("rename terminal", "session", p.SessionID, "err", err)
			r.fail(internalError())
			return
		}
		c.srv.syncSession(c.user.ID, sess)
		c.tellStatus(sess)
		r.ok(map[string]any{"sessionId": p.SessionID, "name": *p.Name})
	})
}

// validName checks a display name: short, printable.
func validName(name string) *wireError {
	if len(name) > 64 {
		return invalidField("name", "name must be at most 64 bytes")
	}
	if !utf8.ValidString(name) {
		return invalidField("name", "name must be valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return invalidField("name", "name must not contain control characters")
		}
	}
	return nil
}

func firstError(errs ...*wireError) *wireError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// workspaceFailure maps a workspace lookup error, logging internal ones.
func (c *client) workspaceFailure(id string, err error) *wireError {
	e := workspaceError(id, err)
	if e.Code == CodeInternal && !errors.Is(err, context.Canceled) {
		c.log.Error("workspace lookup", "workspace", id, "err", err)
	}
	return e
}
