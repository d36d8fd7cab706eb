package sshd

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// loginGrace is how long a connection may take to authenticate (OpenSSH's LoginGraceTime).
const loginGrace = 2 * time.Minute

// loginPoll is how often a connection is checked for having authenticated.
const loginPoll = 200 * time.Millisecond

// watchConn drops connections that do not authenticate within loginGrace, and
// afterwards sends keepalives, dropping a client that leaves KeepaliveMax of
// them in a row unanswered. Non-PTY sessions have no idle timeout. It runs on
// a timer rather than a goroutine of its own: a server mostly holds idle
// connections, and each goroutine keeps a stack.
func (s *Server) watchConn(ctx ssh.Context, conn net.Conn) {
	w := &connWatch{s: s, ctx: ctx, conn: conn, deadline: time.Now().Add(loginGrace)}
	w.mu.Lock()
	w.t = time.AfterFunc(loginPoll, w.step)
	w.mu.Unlock()
	context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.t.Stop()
		w.mu.Unlock()
	})
}

// connWatch is watchConn's state between two steps.
type connWatch struct {
	s        *Server
	ctx      ssh.Context
	conn     net.Conn
	deadline time.Time

	mu          sync.Mutex
	t           *time.Timer
	sc          *gossh.ServerConn // nil until authenticated
	outstanding bool              // a keepalive awaits its reply
	misses      int
}

func (w *connWatch) step() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		return
	}
	if w.sc == nil {
		w.sc, _ = w.ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
		switch {
		case w.sc != nil:
			w.t.Reset(w.s.KeepaliveInterval)
		case time.Now().After(w.deadline):
			w.s.Log.Info("ssh login grace time over", "remote", w.conn.RemoteAddr().String())
			w.conn.Close()
		default:
			w.t.Reset(loginPoll)
		}
		return
	}
	if w.outstanding {
		w.misses++
		if w.misses >= w.s.KeepaliveMax {
			w.s.Log.Info("ssh client not answering keepalives, dropping", "remote", w.conn.RemoteAddr().String(), "user", w.sc.User())
			w.conn.Close()
			return
		}
		w.t.Reset(w.s.KeepaliveInterval)
		return
	}
	w.outstanding = true
	sc := w.sc
	go func() {
		if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err == nil {
			w.mu.Lock()
			w.outstanding, w.misses = false, 0
			w.mu.Unlock()
		}
	}()
	w.t.Reset(w.s.KeepaliveInterval)
}
