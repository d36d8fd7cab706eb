package sshd

import (
	"net"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// loginGrace is how long a connection may take to authenticate (OpenSSH's LoginGraceTime).
const loginGrace = 2 * time.Minute

// watchConn drops connections that do not authenticate within loginGrace, and
// afterwards sends keepalives, dropping a client that leaves KeepaliveMax of
// them in a row unanswered. Non-PTY sessions have no idle timeout.
func (s *Server) watchConn(ctx ssh.Context, conn net.Conn) {
	var sc *gossh.ServerConn
	wait := time.NewTicker(200 * time.Millisecond)
	deadline := time.Now().Add(loginGrace)
	for sc == nil {
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		sc, _ = ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
		if sc == nil && time.Now().After(deadline) {
			wait.Stop()
			s.Log.Info("ssh login grace time over", "remote", conn.RemoteAddr().String())
			conn.Close()
			return
		}
	}
	wait.Stop()

	tick := time.NewTicker(s.KeepaliveInterval)
	defer tick.Stop()
	replied := make(chan struct{}, 1)
	outstanding, misses := false, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-replied:
			outstanding, misses = false, 0
		case <-tick.C:
			if outstanding {
				misses++
				if misses >= s.KeepaliveMax {
					s.Log.Info("ssh client not answering keepalives, dropping", "remote", conn.RemoteAddr().String(), "user", sc.User())
					conn.Close()
					return
				}
				continue
			}
			outstanding = true
			go func() {
				if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err == nil {
					replied <- struct{}{}
				}
			}()
		}
	}
}
