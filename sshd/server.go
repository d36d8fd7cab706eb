// Package sshd is codeterm's SSH front-end: public-key authentication against
// the store, routing of "user@host WORKSPACE" onto the session core, plain
// OpenSSH behaviour for "user+WORKSPACE@host" (what VS Code Remote-SSH, scp,
// sftp, rsync and git need), port forwarding and the workspace picker.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// Server is the SSH server. Set the fields, then call Serve.
type Server struct {
	HostKey    gossh.Signer
	Auth       *auth.Service
	Store      *store.Store
	Sessions   *sessions.Manager
	Workspaces *workspaces.Manager
	Log        *slog.Logger

	// PublicURL is the web address used in login links.
	PublicURL string
	// KeepaliveInterval and KeepaliveMax: a connection whose client leaves
	// KeepaliveMax keepalives in a row unanswered is dropped. Zero: 15s and 3.
	KeepaliveInterval time.Duration
	KeepaliveMax      int
	// AuthThrottle delays failed authentications per source address and
	// per attempted user; a good key is never delayed or refused.
	AuthThrottle *auth.Throttle
	// MaxChannels is the most channels (sessions, forwards, sftp) one
	// connection may have open at once. Zero: 64.
	MaxChannels int
	// AccessCheckInterval is how often connections are checked against the
	// store for removed users and keys and revoked users. Zero: 1s.
	AccessCheckInterval time.Duration
	// SocketOwner, when set, gives the OS account that owns the unix
	// sockets of a user's -R forwards; ok false leaves the server's.
	SocketOwner func(u *store.User) (uid, gid int, ok bool)
	// HomeFor returns the HOME of a user's shells; nil: the server's own HOME
	// (or the OS account's, see Accounts).
	HomeFor func(u *store.User) string
	// Accounts maps users to the OS accounts everything started for them
	// runs as; nil runs it all as the server's user.
	Accounts *isolation.Accounts
	// Executable is the codeterm binary. It runs the sftp subsystem
	// (`codeterm sftp-server`) and opens unix-socket forwards (`codeterm
	// dial-unix`) as a user's OS account, needed with Accounts (without
	// Accounts both run in the server process); and commands on the
	// workspace login find it on their PATH as "codeterm" (for codeterm
	// attach), where "" means the running program.
	Executable string

	localMu  sync.Mutex
	localDir string                  // attach sockets and bin/codeterm; "" until first used
	locals   map[string]net.Listener // user id → attach socket

	srvMu    sync.Mutex // Serve and Shutdown run in different goroutines
	srv      *ssh.Server
	ln       net.Listener
	closed   bool
	counters counters
	ptys     sync.Map // ssh.Session → ssh.Pty: the library keeps PTY requests per connection, not per channel

	inputBufs sync.Pool // *[]byte: an attached client's input buffer while a paste goes on (attach.go)

	connsMu sync.Mutex
	conns   map[*conn]struct{}
	ports   ports // loopback ports bound by -R, by user
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	srv, err := s.build()
	if err != nil {
		return err
	}
	s.srvMu.Lock()
	if s.closed {
		s.srvMu.Unlock()
		ln.Close()
		return nil
	}
	s.srv, s.ln = srv, ln
	s.srvMu.Unlock()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go s.watchAccess(ctx, s.AccessCheckInterval)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
		return fmt.Errorf("ssh serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting and closes every connection. Sessions keep running.
func (s *Server) Shutdown(ctx context.Context) error {
	s.srvMu.Lock()
	srv, ln := s.srv, s.ln
	s.closed = true // a Serve that has not started yet will not
	s.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	// Attached clients block in their handlers; closing the connections is
	// what ends them, so Close rather than wait for idle. The listener is
	// closed here too, in case Serve had not yet handed it to srv.
	s.closeLocal()
	err := srv.Close()
	ln.Close()
	return err
}

func (s *Server) build() (*ssh.Server, error) {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.KeepaliveInterval <= 0 {
		s.KeepaliveInterval = 15 * time.Second
	}
	if s.KeepaliveMax <= 0 {
		s.KeepaliveMax = 3
	}
	if s.AuthThrottle == nil {
		s.AuthThrottle = auth.NewThrottle(10)
	}
	if s.MaxChannels <= 0 {
		s.MaxChannels = 64
	}
	if s.AccessCheckInterval <= 0 {
		s.AccessCheckInterval = time.Second
	}
	srv, err := wish.NewServer(
		wish.WithPublicKeyAuth(s.publicKey),
		wish.WithVersion("codeterm"),
		wish.WithMiddleware(s.route),
		wish.WithSubsystem("sftp", s.sftp),
		func(srv *ssh.Server) error {
			srv.AddHostKey(s.HostKey)
			srv.ServerConfigCallback = s.serverConfig
			// A real PTY is never allocated by the library and nothing is
			// emulated: the pty request is remembered and the raw bytes of our
			// own PTYs go to the client unchanged (no \n → \r\n rewriting).
			srv.PtyHandler = s.rememberPty
			srv.ChannelHandlers = map[string]ssh.ChannelHandler{
				"session":                        s.limitChannels(ssh.DefaultSessionHandler),
				"direct-tcpip":                   s.limitChannels(s.directTCPIP),
				"direct-streamlocal@openssh.com": s.limitChannels(s.directStreamLocal),
			}
			// Forwards belong to the connection that asked for them (see
			// conn.listeners), never to a handler shared by all.
			srv.RequestHandlers = map[string]ssh.RequestHandler{
				"tcpip-forward":                          s.tcpipForward,
				"cancel-tcpip-forward":                   s.cancelTCPIPForward,
				"streamlocal-forward@openssh.com":        s.streamLocalForward,
				"cancel-streamlocal-forward@openssh.com": s.cancelStreamLocalForward,
			}
			srv.ConnCallback = func(ctx ssh.Context, conn net.Conn) net.Conn {
				if lc, ok := conn.(*localConn); ok {
					ctx.SetValue(localUserKey{}, lc.userID)
				}
				s.track(ctx, conn)
				s.counters.total.Add(1)
				s.counters.open.Add(1)
				context.AfterFunc(ctx, func() { s.counters.open.Add(-1) })
				s.watchConn(ctx, conn) // timers only: it returns at once
				return conn
			}
			srv.ConnectionFailedCallback = func(conn net.Conn, err error) {
				s.counters.authFailure(authHandshake)
				s.Log.Debug("ssh handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
			}
			return nil
		},
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}
	return srv, nil
}

// serverConfig offers what OpenSSH 9.x offers by default, less what Go does
// not implement (sntrup761, UMAC) and what ssh-audit fails (SHA-1, NIST
// curves, CBC, DSA); the host key is ed25519.
//
//   - hmac-sha2-256 and -512 without ETM: Debian 12's dropbear client and
//     libssh2 before 1.11 (curl's sftp:// and scp://, PHP's ssh2, libgit2)
//     know no ETM MAC and no AES-GCM. ssh-audit warns, it does not fail.
//   - chacha20-poly1305 is offered last. A server's order does not matter to
//     OpenSSH clients, which pick their own first choice, chacha20; it costs
//     the server 1.24 times the CPU of AES-GCM per byte (BenchmarkCiphers,
//     medians of 9), far below what a terminal needs, and clients hardened
//     to chacha20 alone connect.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	cfg := &gossh.ServerConfig{
		Config: gossh.Config{
			KeyExchanges: []string{
				gossh.KeyExchangeMLKEM768X25519,
				gossh.KeyExchangeCurve25519,
				"curve25519-sha256@libssh.org",
				gossh.KeyExchangeDH16SHA512,
			},
			Ciphers: []string{
				"aes128-gcm@openssh.com",
				"aes256-gcm@openssh.com",
				"aes256-ctr",
				"aes192-ctr",
				"aes128-ctr",
				"chacha20-poly1305@openssh.com",
			},
			MACs: []string{
				"hmac-sha2-256-etm@openssh.com",
				"hmac-sha2-512-etm@openssh.com",
				"hmac-sha2-256",
				"hmac-sha2-512",
			},
		},
	}
	localAuth(ctx, cfg)
	return cfg
}

// restartNotice ends an interactive client's screen when the server
// restarts in place: its connection cannot move to the next program.
const restartNotice = "\r\n\x1b[0m[codeterm is restarting; reconnect to pick up where you were]\r\n"

// Restarting tells every client with a terminal that the server is about to
// restart in place (the connections end with it; the sessions do not).
// A client that reads nothing (its window full) is not waited for long.
func (s *Server) Restarting() {
	var list []ssh.Session
	s.ptys.Range(func(k, _ any) bool {
		list = append(list, k.(ssh.Session))
		return true
	})
	done := make(chan struct{}, len(list))
	for _, sess := range list {
		go func() {
			io.WriteString(sess, restartNotice)
			done <- struct{}{}
		}()
	}
	timeout := time.NewTimer(500 * time.Millisecond)
	defer timeout.Stop()
	for range list {
		select {
		case <-done:
		case <-timeout.C:
			return
		}
	}
}

func (s *Server) rememberPty(_ ssh.Context, sess ssh.Session, p ssh.Pty) (func() error, error) {
	s.ptys.Store(sess, p)
	return func() error { s.ptys.Delete(sess); return nil }, nil
}

// pty returns the session's pty request, if it made one.
func (s *Server) pty(sess ssh.Session) (ssh.Pty, bool) {
	v, ok := s.ptys.Load(sess)
	if !ok {
		return ssh.Pty{}, false
	}
	return v.(ssh.Pty), true
}

// onWindowChange calls fn for each window-change request until stop is
// called; stop waits for a call in progress. Changes after stop wait for
// the next reader (the picker hands over to the attach), or for
// drainWindows.
func onWindowChange(sess ssh.Session, fn func(ssh.Window)) (stop func()) {
	_, ch, _ := sess.Pty()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case w, ok := <-ch:
				if !ok {
					return
				}
				fn(w)
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

// drainWindows reads the window changes no one will take any more until
// the channel closes: the library blocks the channel's every later request
// while one is unread.
func drainWindows(sess ssh.Session) {
	if _, ch, _ := sess.Pty(); ch != nil {
		go func() {
			for range ch {
			}
		}()
	}
}
