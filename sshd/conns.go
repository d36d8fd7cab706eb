package sshd

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/store"
)

// Permission extensions set by the key callback and read once the
// handshake is over: who authenticated, with which key, and when.
const (
	keyExt    = "codeterm-key"     // SHA256 fingerprint of the key that authenticated
	authAtExt = "codeterm-auth-at" // Unix nanoseconds of the successful key check
)

// connKey holds a connection's *conn in its ssh.Context.
type connKeyType struct{}

var connKey connKeyType

// conn is what the server tracks of one SSH connection: the socket to cut
// it, its channel count, and the -R forwards it owns.
type conn struct {
	net      net.Conn
	ctx      ssh.Context
	channels atomic.Int32
	// withdrawn ends when the user, the key or their tokens are revoked:
	// it kills the connection's private commands, which closing the socket
	// alone would leave running.
	withdrawn context.Context
	withdraw  context.CancelFunc

	mu        sync.Mutex
	listeners map[string]net.Listener // -R forwards by "host:port" or socket path
}

// identity is who authenticated on the connection; ok is false before
// the handshake is over.
type identity struct {
	userID      string
	fingerprint string
	at          time.Time
}

func (c *conn) identity() (identity, bool) {
	sc, _ := c.ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	if sc == nil || sc.Permissions == nil {
		return identity{}, false
	}
	ext := sc.Permissions.Extensions
	ns, _ := strconv.ParseInt(ext[authAtExt], 10, 64)
	id := identity{userID: ext[userExt], fingerprint: ext[keyExt], at: time.Unix(0, ns)}
	return id, id.userID != ""
}

// openChannel counts a channel against max; false when the connection has max open.
func (c *conn) openChannel(max int) bool {
	if int(c.channels.Add(1)) > max {
		c.channels.Add(-1)
		return false
	}
	return true
}

func (c *conn) closeChannel() { c.channels.Add(-1) }

// cut closes the connection and kills what it runs.
func (c *conn) cut() {
	c.withdraw()
	c.net.Close()
}

// connOf returns the connection a context belongs to.
func connOf(ctx ssh.Context) *conn {
	c, _ := ctx.Value(connKey).(*conn)
	return c
}

// track registers a new connection until it closes.
func (s *Server) track(ctx ssh.Context, nc net.Conn) *conn {
	// Not a child of ctx: a connection that merely closes leaves its
	// commands running, as OpenSSH does.
	withdrawn, withdraw := context.WithCancel(context.Background())
	c := &conn{net: nc, ctx: ctx, withdrawn: withdrawn, withdraw: withdraw, listeners: map[string]net.Listener{}}
	ctx.SetValue(connKey, c)
	s.connsMu.Lock()
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.connsMu.Unlock()
	context.AfterFunc(ctx, func() {
		s.connsMu.Lock()
		delete(s.conns, c)
		s.connsMu.Unlock()
		c.closeListeners()
	})
	return c
}

// limitChannels refuses a channel beyond MaxChannels on one connection, so
// that one client cannot hold an unbounded number of goroutines, PTYs and
// sockets.
func (s *Server) limitChannels(h ssh.ChannelHandler) ssh.ChannelHandler {
	return func(srv *ssh.Server, sc *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
		c := connOf(ctx)
		if !c.openChannel(s.MaxChannels) {
			s.Log.Warn("ssh channel refused: too many on this connection", "user", sc.User(), "remote", sc.RemoteAddr().String(), "max", s.MaxChannels)
			nc.Reject(gossh.ResourceShortage, "too many channels on this connection")
			return
		}
		defer c.closeChannel()
		h(srv, sc, nc, ctx)
	}
}

// watchAccess cuts connections whose access was withdrawn, every interval
// until ctx ends. The CLI (`codeterm user rm`, `user revoke`, `user key rm`)
// runs in another process and only writes the database, so the server
// polls it, as workspaces.Manager.WatchDeleted does for deleted workspaces
// and the browser bridge for revoked tokens.
func (s *Server) watchAccess(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.checkAccess(ctx)
	}
}

// checkAccess cuts every connection whose user is gone, whose key was
// removed, or whose user was revoked after it authenticated: two queries
// per connected user, however many connections they have.
func (s *Server) checkAccess(ctx context.Context) {
	byUser := map[string][]*conn{}
	s.connsMu.Lock()
	for c := range s.conns {
		if id, ok := c.identity(); ok {
			byUser[id.userID] = append(byUser[id.userID], c)
		}
	}
	s.connsMu.Unlock()
	for userID, list := range byUser {
		u, keys, err := s.access(ctx, userID)
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Warn("ssh access check", "user", userID, "err", err)
			}
			continue
		}
		for _, c := range list {
			id, _ := c.identity()
			if why := withdrawn(u, keys, id); why != "" {
				s.Log.Info("ssh connection cut: "+why, "user", userID, "key", id.fingerprint, "remote", c.net.RemoteAddr().String())
				c.cut()
			}
		}
	}
}

// access reads a user and the fingerprints of their keys; a removed user is
// (nil, nil, nil).
func (s *Server) access(ctx context.Context, userID string) (*store.User, map[string]bool, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	list, err := s.Store.SSHKeys(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	keys := make(map[string]bool, len(list))
	for _, k := range list {
		keys[k.Fingerprint] = true
	}
	return u, keys, nil
}

// withdrawn says why a connection authenticated as id may no longer be
// used, or "" when it may.
func withdrawn(u *store.User, keys map[string]bool, id identity) string {
	switch {
	case u == nil:
		return "user removed"
	case id.fingerprint != localKey && !keys[id.fingerprint]:
		return "key removed"
	case id.at.Before(u.TokensValidAfter):
		return "user revoked"
	}
	return ""
}

// allowed reports whether the connection's access still holds, read from
// the store now: forwarding and subsystem callbacks ask it before they act,
// so a removal counts at once for new channels, not only at the next sweep.
func (s *Server) allowed(ctx ssh.Context) bool {
	_, ok := s.allowedUser(ctx)
	return ok
}

// allowedUser is allowed, with the user as the check read them.
func (s *Server) allowedUser(ctx ssh.Context) (*store.User, bool) {
	c := connOf(ctx)
	if c == nil {
		return nil, false
	}
	id, ok := c.identity()
	if !ok {
		return nil, false
	}
	u, keys, err := s.access(ctx, id.userID)
	if err != nil {
		s.Log.Warn("ssh access check", "user", id.userID, "err", err)
		return nil, false
	}
	return u, withdrawn(u, keys, id) == ""
}
