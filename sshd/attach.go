package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		return
	case errors.Is(err, sessions.ErrAmbiguous):
		s.fail(sess, "codeterm: %q matches more than one session in %s; give more of the id", ref, ws.Name)
		return
	case errors.Is(err, sessions.ErrLimitExceeded):
		s.fail(sess, "codeterm: session limit reached; end a session first")
		return
	case err != nil:
		s.Log.Error("ssh attach: start session", "user", u.Name, "workspace", ws.Name, "err", err)
		s.fail(sess, "codeterm: could not start a shell: %v", err)
		return
	}
	// The history the session keeps comes first, as output, so that the
	// terminal's own scrollback holds it as it does on the first client's.
	// The window keeps its size: while another client's is the session's,
	// this one is shown the part of the screen that fits.
	a, err := target.Attach(sessions.AttachOptions{
		Client: "ssh", LastSeq: -1, Cols: pty.Window.Width, Rows: pty.Window.Height,
		Scrollback: math.MaxInt32, ScrollbackOnce: true, Viewport: true,
	})
	if err != nil {
		s.fail(sess, "codeterm: attach: %v", err)
		return
	}
	defer a.Close()
	if ssh.AgentRequested(sess) {
		defer target.ForwardAgent(agentDialer(sess))()
	}
	info := target.Info()
	s.Log.Info("ssh attach", "user", u.Name, "workspace", ws.Name, "session", info.ID, "remote", sess.RemoteAddr().String())
	defer s.Log.Info("ssh detach", "user", u.Name, "workspace", ws.Name, "session", info.ID)

	stopWindows := onWindowChange(sess, func(w ssh.Window) {
		a.Resize(w.Width, w.Height) // out-of-range sizes are refused by the core
	})
	defer stopWindows()
	go func() {
		// Keystrokes are small and a paste takes a few more reads; the
		// buffer lives as long as the attachment, so it stays small.
		buf := make([]byte, 4<<10)
		for {
			n, err := in.Read(buf)
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
		}
	}()
	for {
		c, err := a.Next(ctx)
		if err != nil {
			return // detached: the client went away, or the server stops
		}
		if c.Kind == sessions.ChunkExit {
			if c.Signal != "" {
				exitSignal(sess, c.Signal, c.ExitCode)
			} else {
				sess.Exit(c.ExitCode)
			}
			return
		}
		if _, err := sess.Write(c.Data); err != nil {
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
