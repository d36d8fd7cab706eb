package sshd

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"

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

// allowLocalForward lets -L, -D, -W and VS Code's tunnels reach services on
// the server's loopback interface, and nothing else: codeterm is not a proxy
// into the server's network.
func (s *Server) allowLocalForward(ctx ssh.Context, host string, port uint32) bool {
	if !isLoopback(host) {
		s.Log.Warn("ssh direct-tcpip refused: destination is not loopback", "user", ctx.User(), "remote", ctx.RemoteAddr().String(), "dest", host, "port", port)
		return false
	}
	return s.allowed(ctx)
}

// allowReverseForward binds -R listeners on loopback only.
func (s *Server) allowReverseForward(ctx ssh.Context, host string, port uint32) bool {
	if !isLoopback(host) {
		s.Log.Warn("ssh tcpip-forward refused: bind address is not loopback", "user", ctx.User(), "remote", ctx.RemoteAddr().String(), "bind", host, "port", port)
		return false
	}
	return s.allowed(ctx)
}

// directTCPIP serves direct-tcpip (-L, -D, -W): a channel to a TCP port
// on the server's loopback interface, half-closed like OpenSSH's.
func (s *Server) directTCPIP(_ *ssh.Server, _ *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	var req struct {
		DestAddr   string
		DestPort   uint32
		OriginAddr string
		OriginPort uint32
	}
	if err := gossh.Unmarshal(newChan.ExtraData(), &req); err != nil {
		newChan.Reject(gossh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	if !s.allowLocalForward(ctx, req.DestAddr, req.DestPort) {
		newChan.Reject(gossh.Prohibited, "port forwarding is limited to the server's loopback interface")
		return
	}
	addr := net.JoinHostPort(req.DestAddr, strconv.FormatUint(uint64(req.DestPort), 10))
	connect(ctx, newChan, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	})
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
	if !s.allowed(ctx) {
		newChan.Reject(gossh.Prohibited, "access withdrawn")
		return
	}
	acct, err := s.connAccount(ctx, nil)
	if err != nil {
		newChan.Reject(gossh.ConnectionFailed, "no OS account")
		return
	}
	connect(ctx, newChan, func(ctx context.Context) (net.Conn, error) {
		return s.dialUnixAs(ctx, acct, req.SocketPath)
	})
}

// connect dials and, once connected, accepts the channel and pipes it to
// the connection.
func connect(ctx ssh.Context, newChan gossh.NewChannel, dial func(context.Context) (net.Conn, error)) {
	conn, err := dial(ctx)
	if err != nil {
		newChan.Reject(gossh.ConnectionFailed, "connect failed")
		return
	}
	ch, reqs, err := newChan.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go gossh.DiscardRequests(reqs)
	pipe(ctx, ch, conn)
}

// tcpipForward serves tcpip-forward (-R): a listener on the server's
// loopback interface owned by this connection alone.
func (s *Server) tcpipForward(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	var r struct {
		BindAddr string
		BindPort uint32
	}
	if err := gossh.Unmarshal(req.Payload, &r); err != nil || r.BindPort > 65535 {
		return false, nil
	}
	c := connOf(ctx)
	id, ok := c.identity()
	if !ok || !s.allowReverseForward(ctx, r.BindAddr, r.BindPort) {
		return false, nil
	}
	if r.BindPort != 0 && !s.ports.claim(r.BindPort, id.userID) {
		s.Log.Warn("ssh tcpip-forward refused: port held by another user", "user", ctx.User(), "port", r.BindPort)
		return false, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(r.BindAddr, strconv.FormatUint(uint64(r.BindPort), 10)))
	if err != nil {
		s.ports.release(r.BindPort, id.userID)
		s.Log.Info("ssh tcpip-forward: listen failed", "user", ctx.User(), "err", err)
		return false, nil
	}
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	if r.BindPort == 0 && !s.ports.claim(port, id.userID) {
		ln.Close()
		return false, nil
	}
	if servedOnOtherLoopback(ln.Addr().(*net.TCPAddr)) {
		// "localhost" may resolve to the other family first: a listener
		// there would take connections meant for whoever holds the port
		// (another user, the web front-end).
		ln.Close()
		s.ports.release(port, id.userID)
		s.Log.Warn("ssh tcpip-forward refused: port in use on the other loopback address", "user", ctx.User(), "port", port)
		return false, nil
	}
	key := "tcp:" + net.JoinHostPort(r.BindAddr, strconv.FormatUint(uint64(port), 10))
	if !c.addListener(key, ln) {
		ln.Close()
		s.ports.release(port, id.userID)
		return false, nil
	}
	go func() {
		s.serveForward(ctx, c, ln, "forwarded-tcpip", func(nc net.Conn) []byte {
			oh, op := splitHostPort(nc.RemoteAddr().String())
			opn, _ := strconv.ParseUint(op, 10, 32)
			return gossh.Marshal(&struct {
				DestAddr   string
				DestPort   uint32
				OriginAddr string
				OriginPort uint32
			}{r.BindAddr, port, oh, uint32(opn)})
		})
		c.removeListener(key, ln)
		s.ports.release(port, id.userID)
	}()
	if r.BindPort == 0 {
		return true, gossh.Marshal(&struct{ Port uint32 }{port})
	}
	return true, nil
}

// cancelTCPIPForward closes one of this connection's -R listeners; another
// connection's are not found, so they cannot be cancelled from here.
func (s *Server) cancelTCPIPForward(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	var r struct {
		BindAddr string
		BindPort uint32
	}
	if err := gossh.Unmarshal(req.Payload, &r); err != nil {
		return false, nil
	}
	return connOf(ctx).closeListener("tcp:" + net.JoinHostPort(r.BindAddr, strconv.FormatUint(uint64(r.BindPort), 10))), nil
}

// servedOnOtherLoopback reports whether the port of a loopback listener is
// already bound on the loopback address of the other IP family.
func servedOnOtherLoopback(a *net.TCPAddr) bool {
	other := "::1"
	if a.IP.To4() == nil {
		other = "127.0.0.1"
	}
	probe, err := net.Listen("tcp", net.JoinHostPort(other, strconv.Itoa(a.Port)))
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	probe.Close()
	return false
}

// serveForward accepts on a -R listener until it closes and opens a
// channel of chanType to the client for each connection.
func (s *Server) serveForward(ctx ssh.Context, c *conn, ln net.Listener, chanType string, payload func(net.Conn) []byte) {
	sc, _ := ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		if sc == nil || !c.openChannel(s.MaxChannels) {
			nc.Close()
			continue
		}
		go func() {
			defer c.closeChannel()
			ch, reqs, err := sc.OpenChannel(chanType, payload(nc))
			if err != nil {
				nc.Close()
				return
			}
			go gossh.DiscardRequests(reqs)
			pipe(ctx, ch, nc)
		}()
	}
}

func (c *conn) addListener(key string, ln net.Listener) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil || c.listeners[key] != nil {
		return false
	}
	c.listeners[key] = ln
	return true
}

func (c *conn) removeListener(key string, ln net.Listener) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listeners[key] == ln {
		delete(c.listeners, key)
	}
}

// closeListener closes the listener under key; false if there is none.
func (c *conn) closeListener(key string) bool {
	c.mu.Lock()
	ln := c.listeners[key]
	delete(c.listeners, key)
	c.mu.Unlock()
	if ln == nil {
		return false
	}
	ln.Close()
	return true
}

func (c *conn) closeListeners() {
	c.mu.Lock()
	list := c.listeners
	c.listeners = map[string]net.Listener{}
	c.mu.Unlock()
	for _, ln := range list {
		ln.Close()
	}
}

// ports records which user holds each loopback port bound by -R, so that
// no other user can bind the same port on another loopback address.
type ports struct {
	mu sync.Mutex
	m  map[uint32]portClaim
}

type portClaim struct {
	userID string
	n      int
}

func (p *ports) claim(port uint32, userID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[uint32]portClaim{}
	}
	pc := p.m[port]
	if pc.n > 0 && pc.userID != userID {
		return false
	}
	p.m[port] = portClaim{userID, pc.n + 1}
	return true
}

func (p *ports) release(port uint32, userID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc, ok := p.m[port]
	if !ok || pc.userID != userID {
		return
	}
	if pc.n <= 1 {
		delete(p.m, port)
		return
	}
	p.m[port] = portClaim{userID, pc.n - 1}
}

// pipe copies both ways, passing each side's EOF on as a half-close, as
// OpenSSH does: a client that shuts down its sending side (nc -N, HTTP/1.0,
// ssh -W with stdin at its end) still gets the reply. The end of the SSH
// connection (ctx) closes conn too, or a silent peer would hold it open.
func pipe(ctx context.Context, ch gossh.Channel, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
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
