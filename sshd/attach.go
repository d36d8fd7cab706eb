package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
)

// attach joins the client to a shared session: the workspace's primary one,
// or the one named by ref (an id or a unique prefix). Disconnecting only
// detaches; when the shell exits the client gets its exit status.
func (s *Server) attach(sess ssh.Session, u *store.User, ws *store.Workspace, ref string, pty ssh.Pty) {
	s.attachInput(sess, sess, u, ws, ref, pty)
}

// attachInput is attach with the client's keystrokes read from in.
func (s *Server) attachInput(sess ssh.Session, in io.Reader, u *store.User, ws *store.Workspace, ref string, pty ssh.Pty) {
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	// Looked up in a call of its own: this frame stays under the output
	// loop's wait (see join).
	target := s.attachTarget(ctx, sess, u, ws, ref, pty)
	if target == nil {
		return
	}
	s.join(ctx, cancel, sess, in, u, target, pty)
}

// attachTarget is the session ref names in ws, or the workspace's primary
// one (started if need be); nil when there is none (the client is told).
func (s *Server) attachTarget(ctx context.Context, sess ssh.Session, u *store.User, ws *store.Workspace, ref string, pty ssh.Pty) *sessions.Session {
	var target *sessions.Session
	var err error
	if ref != "" {
		target, err = s.Sessions.Lookup(u.ID, ws.ID, ref)
	} else {
		target, err = s.Sessions.Primary(ctx, s.spawnOptions(sess, u, ws, pty.Window.Width, pty.Window.Height))
	}
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		s.fail(sess, "codeterm: no session %q in %s", ref, ws.Name)
		return nil
	case errors.Is(err, sessions.ErrAmbiguous):
		s.fail(sess, "codeterm: %q matches more than one session in %s; give more of the id", ref, ws.Name)
		return nil
	case errors.Is(err, sessions.ErrLimitExceeded):
		s.fail(sess, "codeterm: session limit reached; end a session first")
		return nil
	case err != nil:
		s.Log.Error("ssh attach: start session", "user", u.Name, "workspace", ws.Name, "err", err)
		s.fail(sess, "codeterm: could not start a shell: %v", err)
		return nil
	}
	return target
}

// attachShared attaches the client to a session by its id: one of the
// user's own, or one shared with them. A session they may not see is
// reported like a missing one.
func (s *Server) attachShared(sess ssh.Session, u *store.User, id string, pty ssh.Pty) {
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	target, _, err := s.Sessions.Join(ctx, u.ID, id)
	if err != nil {
		s.fail(sess, "codeterm: no session %q", id)
		return
	}
	s.join(ctx, cancel, sess, sess, u, target, pty)
}

// recordingNotice is the one-line "badge" SSH clients get.
func recordingNotice(on bool) string {
	if on {
		return "\r\n[codeterm: this session is being recorded]\r\n"
	}
	return "\r\n[codeterm: recording stopped]\r\n"
}

// readOnlyNotice is printed once, when a viewer first types.
const readOnlyNotice = "\r\n[codeterm: you are a viewer here; your input is not sent]\r\n"

// join relays between the client and target until either ends.
//
// The output loop runs on the session handler's goroutine, which an idle
// client keeps parked in Next for as long as it stays: that goroutine's
// stack stays as large as the deepest point it waits at needs (the runtime
// halves a stack only while under a quarter of it is in use). The set-up
// (startJoin) therefore returns before the loop (relay) starts, so that
// its frames are not under the wait; BenchmarkIdleSSHHeap has the figures.
func (s *Server) join(ctx context.Context, cancel context.CancelFunc, sess ssh.Session, in io.Reader, u *store.User, target *sessions.Session, pty ssh.Pty) {
	j := s.startJoin(ctx, cancel, sess, in, u, target, pty)
	if j == nil {
		return
	}
	defer j.end(s.Log)
	s.relay(ctx, j)
}

// joined is a client attached by startJoin.
type joined struct {
	sess      ssh.Session
	a         *sessions.Attachment
	role      sessions.Role
	id        string // the session's
	windows   <-chan ssh.Window
	stopAgent func() // nil: no agent forwarded
	user, ws  string // for the log
}

// end undoes startJoin.
func (j *joined) end(log *slog.Logger) {
	drainWindows(j.sess)
	log.Info("ssh detach", "user", j.user, "workspace", j.ws, "session", j.id)
	if j.stopAgent != nil {
		j.stopAgent()
	}
	j.a.Close()
}

// startJoin attaches the client, tells it what it must know first and
// starts the goroutine that takes its keystrokes; nil when the client was
// refused (and told why).
func (s *Server) startJoin(ctx context.Context, cancel context.CancelFunc, sess ssh.Session, in io.Reader, u *store.User, target *sessions.Session, pty ssh.Pty) *joined {
	// The history the session keeps comes first, as output, so that the
	// terminal's own scrollback holds it as it does on the first client's.
	// The window keeps its size: while another client's is the session's,
	// this one is shown the part of the screen that fits.
	who := sessions.Who{UserID: u.ID, User: u.Name, Via: "ssh", Addr: sess.RemoteAddr().String()}
	a, role, err := s.Sessions.AttachAs(ctx, target, who, sessions.AttachOptions{
		LastSeq: -1, Cols: pty.Window.Width, Rows: pty.Window.Height,
		Scrollback: math.MaxInt32, ScrollbackOnce: true, Viewport: true, Client: "ssh",
		RecordingNotices: true,
	})
	if errors.Is(err, sessions.ErrNotFound) {
		s.fail(sess, "codeterm: no session %q", target.ID())
		return nil
	}
	if err != nil {
		s.fail(sess, "codeterm: attach: %v", err)
		return nil
	}
	info := target.Info()
	j := &joined{sess: sess, a: a, role: role, id: info.ID, user: u.Name, ws: info.WorkspaceID}
	// A guest's agent never reaches the owner's shell.
	if role == sessions.RoleOwner && ssh.AgentRequested(sess) {
		j.stopAgent = target.ForwardAgent(agentDialer(sess))
	}
	s.Log.Info("ssh attach", "user", u.Name, "workspace", info.WorkspaceID, "session", info.ID, "role", role, "remote", sess.RemoteAddr().String())

	// Everyone attached is told when the session is recorded: now, and
	// by the stream (ChunkRecording) when it is switched.
	if target.Recording() {
		io.WriteString(sess, recordingNotice(true))
	}
	// Window changes are taken by the goroutine that sends output: an idle
	// client keeps no goroutine (and stack) of its own for them.
	_, j.windows, _ = sess.Pty()
	go s.readInput(sess, in, a, cancel)
	return j
}

// readInput hands the client's keystrokes to the session until the input
// ends; an error other than EOF cancels the attachment.
func (s *Server) readInput(sess ssh.Session, in io.Reader, a *sessions.Attachment, cancel context.CancelFunc) {
	// Keystrokes are small, and the buffer waiting for the next one lives
	// as long as the attachment: an idle client keeps a small one. A read
	// that fills it is a paste going on, read on in larger steps with a
	// pooled buffer until the input pauses.
	small := make([]byte, 256)
	buf := small
	defer func() {
		if len(buf) != len(small) {
			s.inputBufs.Put(&buf)
		}
	}()
	told := false
	for {
		n, err := in.Read(buf)
		if n > 0 && a.ReadOnly() {
			if !told {
				told = true
				sess.Write([]byte(readOnlyNotice))
			}
			n = 0
		}
		if n > 0 {
			if _, werr := a.Write(buf[:n]); errors.Is(werr, sessions.ErrClosed) {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cancel()
			}
			return
		}
		switch full := n == len(buf); {
		case full && len(buf) == len(small):
			if p, ok := s.inputBufs.Get().(*[]byte); ok {
				buf = *p
			} else {
				buf = make([]byte, 4<<10)
			}
		case !full && len(buf) != len(small):
			s.inputBufs.Put(&buf)
			buf = small
		}
	}
}

// relay sends the session's output to the client, and takes its window
// changes, until the attachment ends.
func (s *Server) relay(ctx context.Context, j *joined) {
	windows := j.windows
	for {
		c, w, resized, open, err := sessions.NextOr(ctx, j.a, windows)
		if resized {
			if !open {
				windows = nil
			} else {
				j.a.Resize(w.Width, w.Height) // out-of-range sizes are refused by the core
			}
			continue
		}
		if err != nil {
			// Detached: the client went away, or the server stops; or,
			// closed under a guest, their share ended or changed.
			if errors.Is(err, sessions.ErrClosed) && ctx.Err() == nil && j.role != sessions.RoleOwner {
				s.fail(j.sess, "\r\ncodeterm: session %s is no longer shared with you as %s", j.id, j.role)
			}
			return
		}
		if c.Kind == sessions.ChunkRecording {
			io.WriteString(j.sess, recordingNotice(c.Recording))
			continue
		}
		if c.Kind == sessions.ChunkExit {
			if c.Signal != "" {
				exitSignal(j.sess, c.Signal, c.ExitCode)
			} else {
				j.sess.Exit(c.ExitCode)
			}
			return
		}
		if _, err := j.sess.Write(c.Data); err != nil {
			return
		}
	}
}

// agentDialer opens channels to the client's agent (ssh -A) on the
// session's connection.
func agentDialer(sess ssh.Session) sessions.AgentDialer {
	return func() (io.ReadWriteCloser, error) {
		conn, ok := sess.Context().Value(ssh.ContextKeyConn).(gossh.Conn)
		if !ok {
			return nil, errors.New("no connection")
		}
		ch, reqs, err := conn.OpenChannel("auth-agent@openssh.com", nil)
		if err != nil {
			return nil, fmt.Errorf("open agent channel: %w", err)
		}
		go gossh.DiscardRequests(reqs)
		return ch, nil
	}
}

func splitHostPort(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, ""
	}
	return host, port
}
