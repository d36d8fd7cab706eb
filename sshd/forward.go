package sshd

import (
	"io"
	"net"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// isLoopback accepts "localhost" and loopback addresses only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// allowLocalForward lets -L and VS Code's tunnels reach services on the
// server's loopback interface, and nothing else: codeterm is not a proxy into
// the server's network.
func (s *Server) allowLocalForward(ctx ssh.Context, host string, port uint32) bool {
	if isLoopback(host) {
		return true
	}
	s.Log.Warn("ssh direct-tcpip refused: destination is not loopback", "user", ctx.User(), "remote", ctx.RemoteAddr().String(), "dest", host, "port", port)
	return false
}

// allowReverseForward binds -R listeners on loopback only.
func (s *Server) allowReverseForward(ctx ssh.Context, host string, port uint32) bool {
	if isLoopback(host) {
		return true
	}
	s.Log.Warn("ssh tcpip-forward refused: bind address is not loopback", "user", ctx.User(), "remote", ctx.RemoteAddr().String(), "bind", host, "port", port)
	return false
}

// directStreamLocal serves direct-streamlocal@openssh.com: a channel to a unix
// socket on the server (ssh -L local:/path/to/socket).
func (s *Server) directStreamLocal(_ *ssh.Server, _ *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	var req struct {
		SocketPath string
		Reserved0  string
		Reserved1  uint32
	}
	if err := gossh.Unmarshal(newChan.ExtraData(), &req); err != nil {
		newChan.Reject(gossh.ConnectionFailed, "malformed direct-streamlocal request")
		return
	}
	acct, err := s.connAccount(ctx, nil)
	if err != nil {
		newChan.Reject(gossh.ConnectionFailed, "no OS account")
		return
	}
	conn, err := s.dialUnixAs(ctx, acct, req.SocketPath)
	if err != nil {
		newChan.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := newChan.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go gossh.DiscardRequests(reqs)
	pipe(ch, conn)
}

// pipe copies both ways, passing each side's EOF on as a half-close.
func pipe(ch gossh.Channel, conn net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(ch, conn)
		ch.CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(conn, ch)
		if c, ok := conn.(interface{ CloseWrite() error }); ok {
			c.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
	ch.Close()
	conn.Close()
}
