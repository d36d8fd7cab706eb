package sshd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/ssh"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// route is the one handler of every session channel:
//
//	alice+WS@host            a plain OpenSSH server rooted in WS (VS Code, scp, rsync, git)
//	alice@host               the workspace picker (PTY) or the list and usage (no PTY)
//	alice@host login         a one-time browser login link
//	alice@host WS[/SESSION]  attach to the workspace's primary (or the given) session
//	alice@host WS CMD...     run CMD in the workspace, not shared
//	alice@host @SESSION      attach to a session by id: one's own or one shared with alice
func (s *Server) route(ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		u, err := s.sessionUser(sess)
		if err != nil {
			s.fail(sess, "codeterm: %v", err)
			return
		}
		if !s.resolveAccount(sess, u) {
			return
		}
		req := parseRequest(sess.User(), sess.RawCommand())
		pty, hasPty := s.pty(sess)
		if req.plain {
			ws, ok := s.workspace(sess, u, req.workspace)
			if !ok {
				return
			}
			switch {
			case req.command != "":
				s.exec(sess, u, ws, req.command)
			case hasPty:
				s.attach(sess, u, ws, "", pty)
			default:
				s.exec(sess, u, ws, "")
			}
			return
		}

		switch req.builtin {
		case "list":
			if hasPty {
				s.picker(sess, u, pty)
			} else {
				s.listAndUsage(sess, u)
			}
			return
		case "login":
			s.login(sess, u)
			return
		case "help":
			s.usage(sess.Stderr(), u)
			sess.Exit(0)
			return
		}
		if req.shared != "" {
			if !hasPty {
				s.fail(sess, "codeterm: attaching to @%s needs a terminal: ssh -t %s @%s", req.shared, s.sshTarget(sess, u), req.shared)
				return
			}
			s.attachShared(sess, u, req.shared, pty)
			return
		}
		ws, ok := s.workspace(sess, u, req.workspace)
		if !ok {
			return
		}
		switch {
		case req.command != "":
			s.exec(sess, u, ws, req.command)
		case hasPty:
			s.attach(sess, u, ws, req.session, pty)
		default:
			ref := req.workspace
			if req.session != "" {
				ref += "/" + req.session
			}
			s.fail(sess, "codeterm: attaching to %s needs a terminal: ssh -t %s %s", ref, s.sshTarget(sess, u), ref)
		}
	}
}

// request is what a session channel asks for, read from its login name
// and command line.
type request struct {
	user      string
	plain     bool   // user+WORKSPACE: plain OpenSSH behaviour in the workspace
	workspace string // the workspace named by the login or the first word
	session   string // WORKSPACE/SESSION: a session id or prefix
	command   string // what to run; "" for a shell or an attach
	builtin   string // "list" (no command), "login" or "help"; then no workspace
	shared    string // @SESSION: a session another user shares with this one; then no workspace
}

// parseRequest reads the login name ("alice" or "alice+WORKSPACE") and the
// command line of a session channel.
func parseRequest(login, raw string) request {
	var r request
	r.user, r.workspace = splitLogin(login)
	raw = strings.TrimSpace(raw)
	if r.workspace != "" {
		r.plain, r.command = true, raw
		return r
	}
	first, rest := splitWord(raw)
	switch first {
	case "":
		r.builtin = "list"
		return r
	case "login":
		r.builtin = "login"
		return r
	case "help", "--help", "-h":
		r.builtin = "help"
		return r
	}
	if id, ok := strings.CutPrefix(first, "@"); ok && id != "" && rest == "" {
		r.shared = id
		return r
	}
	r.workspace, r.session, _ = strings.Cut(first, "/")
	r.command = rest
	return r
}

// splitWord splits the first space-separated word off a command line.
func splitWord(s string) (first, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}

func (s *Server) sessionUser(sess ssh.Session) (*store.User, error) {
	id := sess.Permissions().Extensions[userExt]
	if id == "" {
		return nil, errors.New("not authenticated")
	}
	u, ok := s.allowedUser(sess.Context())
	if !ok {
		return nil, errors.New("access withdrawn")
	}
	if u.ID == id {
		return u, nil // read by the check just now
	}
	return s.Store.UserByID(sess.Context(), id)
}

// workspace finds one of the user's workspaces. A missing workspace and
// another user's get the same message and status, so nobody learns what
// others have.
func (s *Server) workspace(sess ssh.Session, u *store.User, name string) (*store.Workspace, bool) {
	ws, err := s.Store.WorkspaceByName(sess.Context(), u.ID, name)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.Log.Error("workspace lookup", "err", err)
		}
		s.fail(sess, "codeterm: no workspace %q (ssh %s lists yours)", name, s.sshTarget(sess, u))
		return nil, false
	}
	if err := workspaces.LinkInHome(s.homeDir(sess, u), ws, accountOf(sess)); err != nil {
		s.Log.Warn("workspace link in HOME", "user", u.Name, "workspace", ws.Name, "err", err)
	}
	return ws, true
}

// fail prints a message on stderr and exits with status 1.
func (s *Server) fail(sess ssh.Session, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if _, hasPty := s.pty(sess); hasPty {
		msg = strings.ReplaceAll(msg, "\n", "\r\n") + "\r\n" // the client's terminal is raw
	} else {
		msg += "\n"
	}
	io.WriteString(sess.Stderr(), msg)
	sess.Exit(1)
}

func (s *Server) sshTarget(sess ssh.Session, u *store.User) string {
	host, port := splitHostPort(sess.LocalAddr().String())
	if port != "22" {
		return fmt.Sprintf("-p %s %s@%s", port, u.Name, host)
	}
	return u.Name + "@" + host
}

func (s *Server) login(sess ssh.Session, u *store.User) {
	code, err := s.Auth.NewLoginCode(sess.Context(), u.ID)
	if err != nil {
		s.Log.Error("login code", "err", err)
		s.fail(sess, "codeterm: could not create a login link")
		return
	}
	nl := "\n"
	if _, hasPty := s.pty(sess); hasPty {
		nl = "\r\n"
	}
	io.WriteString(sess, auth.LoginURL(s.PublicURL, code)+nl)
	sess.Exit(0)
}

func (s *Server) listAndUsage(sess ssh.Session, u *store.User) {
	list, err := s.Store.Workspaces(sess.Context(), u.ID)
	if err != nil {
		s.fail(sess, "codeterm: listing workspaces failed")
		return
	}
	var b strings.Builder
	if len(list) == 0 {
		b.WriteString("You have no workspace yet.\n")
	}
	for _, ws := range list {
		running := 0
		for _, ss := range s.Sessions.List(u.ID, ws.ID) {
			if ss.Info().Status == store.SessionActive {
				running++
			}
		}
		fmt.Fprintf(&b, "%-24s %-16s %d session(s)\n", ws.Name, workspaces.CurrentBranch(ws.LocalPath), running)
	}
	io.WriteString(sess, b.String())
	s.usage(sess.Stderr(), u)
	sess.Exit(0)
}

func (s *Server) usage(w io.Writer, u *store.User) {
	fmt.Fprintf(w, `
Usage:
  ssh -t %[1]s@HOST WORKSPACE            attach to the workspace's shared terminal
  ssh -t %[1]s@HOST WORKSPACE/SESSION    attach to a given session (id or unique prefix)
  ssh -t %[1]s@HOST @SESSIONID           attach to a session shared with you (by its full id)
  ssh %[1]s@HOST WORKSPACE CMD...        run a command in the workspace
  ssh %[1]s+WORKSPACE@HOST               plain shell, exec, sftp, scp in the workspace (VS Code Remote-SSH)
  ssh -t %[1]s@HOST                      pick a workspace
  ssh %[1]s@HOST login                   a one-time browser login link
`, u.Name)
}

// spawnOptions describe a shared session started from SSH.
func (s *Server) spawnOptions(sess ssh.Session, u *store.User, ws *store.Workspace, cols, rows int) sessions.SpawnOptions {
	return sessions.SpawnOptions{
		UserID:      u.ID,
		WorkspaceID: ws.ID,
		Dir:         ws.LocalPath,
		Cols:        cols,
		Rows:        rows,
		Home:        s.home(u),
		Env:         clientEnv(sess),
		Account:     accountOf(sess),
	}
}

func (s *Server) home(u *store.User) string {
	if s.HomeFor != nil {
		return s.HomeFor(u)
	}
	return ""
}

// homeDir is the HOME a user's processes get: their OS account's, their
// own under the data dir, or the server's.
func (s *Server) homeDir(sess ssh.Session, u *store.User) string {
	if a := accountOf(sess); a != nil && a.Home != "" {
		return a.Home
	}
	if h := s.home(u); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// clientEnv keeps the env requests codeterm honours: LANG, LC_*, TERM,
// COLORTERM and GIT_PROTOCOL. The library lists the pty request's TERM
// last, so it wins over an env request's.
func clientEnv(sess ssh.Session) []string {
	var out []string
	for _, kv := range sess.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "LANG", k == "TERM", k == "COLORTERM", k == "GIT_PROTOCOL", strings.HasPrefix(k, "LC_"):
			out = append(out, kv)
		}
	}
	return out
}

// hasVar reports whether env sets name.
func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}
