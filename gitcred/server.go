package gitcred

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/sessions"
)

// Request is what `codeterm git-credential get` sends over the
// credential socket: the session's credential id (sessions.GitCredentialVar)
// and the protocol and host git asked about.
type Request struct {
	Credential string `json:"credential"`
	Protocol   string `json:"protocol"`
	Host       string `json:"host"`
}

// Response is the server's answer. All fields empty means "not
// a host codeterm has credentials for": the helper prints nothing and git
// goes on to its next helper or prompt.
type Response struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Server answers credential requests on the socket. Set the fields, then
// call Serve.
type Server struct {
	Auth     *auth.Service
	Sessions *sessions.Manager
	// Accounts maps users to OS accounts; a caller's uid must be that of
	// the credential's user (nil: the server's own uid).
	Accounts *isolation.Accounts
	// Origin is the protocol and host the token is for (GitHub's web host).
	Origin func() (proto, host string, err error)
	Log    *slog.Logger
}

// Listen creates the socket at path: mode 0600 for the server's own user,
// 0666 with OS accounts, where the kernel tells who calls.
func (s *Server) Listen(path string) (*net.UnixListener, error) {
	mode := os.FileMode(0o600)
	if s.Accounts != nil {
		mode = 0o666
	}
	return listenUnix(path, mode)
}

// Serve answers requests on ln until ctx ends, then closes ln (which
// unlinks the socket) and waits for the requests in progress.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Error("git credential socket", "err", err)
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, conn.(*net.UnixConn))
		}()
	}
}

// listenUnix listens on path with the given mode, replacing a socket a
// previous run left behind (never any other kind of file).
func listenUnix(path string, mode os.FileMode) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The data dir is 0700 (0711 with OS accounts, where the socket is
	// meant to be reached), so nobody else could reach it before this.
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// serveGitCredential answers one request. The id is checked for its HMAC,
// then the session (or SSH exec, see sessions.Manager.Exec) it names must be
// live and belong to the user it names: a credential of another user's
// session, a forged one or one of an ended session gets nothing.
func (s *Server) serve(ctx context.Context, conn *net.UnixConn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	log := s.Log.With("component", "git-credential")
	uid, err := isolation.PeerUID(conn)
	if err != nil {
		log.Warn("git credential request: no peer credentials", "err", err)
		return
	}
	reply := func(r Response) { json.NewEncoder(conn).Encode(r) }
	line, err := bufio.NewReader(io.LimitReader(conn, 4096)).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		reply(Response{Error: "malformed request"})
		return
	}
	userID, sessionID, err := s.Auth.VerifyGitCredential(req.Credential)
	if err != nil {
		log.Warn("git credential refused", "err", err)
		reply(Response{Error: "not a codeterm terminal session (no valid " + sessions.GitCredentialVar + ")"})
		return
	}
	// The kernel's word on who calls: an id read from another user's
	// process is worth nothing from one's own.
	acct, err := s.Accounts.ForUserID(ctx, userID)
	if err != nil || !acct.Owns(uid) {
		log.Warn("git credential request from another OS user refused", "uid", uid, "user", userID, "err", err)
		reply(Response{Error: "not a codeterm terminal session (no valid " + sessions.GitCredentialVar + ")"})
		return
	}
	if s.Sessions == nil {
		reply(Response{Error: "terminal sessions are not available"})
		return
	}
	if !s.Sessions.Live(userID, sessionID) {
		log.Warn("git credential refused: session not live", "user", userID, "session", sessionID)
		reply(Response{Error: "this terminal session has ended"})
		return
	}
	proto, host, err := s.Origin()
	if err != nil || !strings.EqualFold(req.Protocol, proto) || !strings.EqualFold(req.Host, host) {
		reply(Response{}) // not GitHub: let git ask elsewhere
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	token, err := s.Auth.GitHubToken(ctx, userID)
	if errors.Is(err, auth.ErrNoGitHubToken) {
		reply(Response{Error: "no GitHub token: sign in with GitHub in the codeterm web page"})
		return
	}
	if err != nil {
		log.Error("git credential", "user", userID, "err", err)
		reply(Response{Error: "internal error"})
		return
	}
	log.Info("git credential issued", "user", userID, "session", sessionID, "host", host)
	reply(Response{Username: "x-access-token", Password: token})
}
