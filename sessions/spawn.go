package sessions

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/codeterm/codeterm/isolation"
)

// allowedShells are the shells a client may ask for by name.
var allowedShells = [...]string{"bash", "zsh", "fish", "sh"}

// ErrShellNotAllowed is returned (wrapped in ErrSpawn) for a shell outside
// bash, zsh, fish and sh, or one that is not installed.
var ErrShellNotAllowed = errors.New("shell not allowed")

// ResolveShell maps a requested shell ("bash", "/usr/bin/zsh", "" for the
// default) to its name and executable path. The default is the server's OS
// user's login shell when it is one of the allowed shells, else /bin/bash,
// else /bin/sh.
func ResolveShell(requested string) (name, path string, err error) {
	if requested == "" {
		for _, cand := range []string{loginShell(), "/bin/bash", "/bin/sh"} {
			if cand == "" {
				continue
			}
			if n, p, err := ResolveShell(cand); err == nil {
				return n, p, nil
			}
		}
		return "", "", fmt.Errorf("no usable default shell: %w", ErrShellNotAllowed)
	}
	if strings.Contains(requested, "/") && (!filepath.IsAbs(requested) || filepath.Clean(requested) != requested) {
		return "", "", fmt.Errorf("shell %q: %w", requested, ErrShellNotAllowed)
	}
	base := filepath.Base(requested)
	allowed := false
	for _, s := range allowedShells {
		allowed = allowed || s == base
	}
	if !allowed {
		return "", "", fmt.Errorf("shell %q: %w", requested, ErrShellNotAllowed)
	}
	lookup := base
	if filepath.IsAbs(requested) {
		lookup = requested
	}
	p, err := exec.LookPath(lookup)
	if err != nil {
		return "", "", fmt.Errorf("shell %q not installed: %w", requested, ErrShellNotAllowed)
	}
	return base, p, nil
}

// defaultShell keeps ResolveShell("") between sessions: it reads
// /etc/passwd and searches for the shell, at every session otherwise. It is
// resolved again when /etc/passwd changes or the shell is no longer an
// executable file.
type defaultShell struct {
	mu         sync.Mutex
	passwd     os.FileInfo // /etc/passwd when resolved
	name, path string
}

// resolveShell is ResolveShell, the default kept in m.shell.
func (m *Manager) resolveShell(requested string) (name, path string, err error) {
	if requested != "" {
		return ResolveShell(requested)
	}
	d := &m.shell
	d.mu.Lock()
	defer d.mu.Unlock()
	pw, _ := os.Stat(passwdFile)
	if d.path != "" && sameFile(pw, d.passwd) {
		if fi, err := os.Stat(d.path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return d.name, d.path, nil
		}
	}
	name, path, err = ResolveShell("")
	if err != nil {
		d.path = ""
		return "", "", err
	}
	d.passwd, d.name, d.path = pw, name, path
	return name, path, nil
}

// sameFile reports whether a and b (nil: missing) are the same unchanged
// file.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

const passwdFile = "/etc/passwd"

// loginShell reads the server user's shell from /etc/passwd (os/user does
// not expose it).
func loginShell() string {
	f, err := os.Open(passwdFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	uid := strconv.Itoa(os.Getuid())
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 7 && fields[2] == uid {
			return fields[6]
		}
	}
	return ""
}

// envAllowed reports whether a variable may pass from the server's or the
// client's environment to a shell. It is an allow-list on purpose: the JWT
// secret, GitHub tokens and every CODETERM_* setting live in the server's
// environment and must never reach a user's shell.
func envAllowed(name string) bool {
	switch name {
	case "HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "TZ":
		return true
	}
	return strings.HasPrefix(name, "LC_")
}

// defaultPath is the PATH of a shell that gets none from the server.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// GitCredentialVar is the one codeterm variable a shell gets, deliberately
// outside the allow-list so that neither the server's nor a client's
// environment can set it: the session's credential id, which `codeterm
// git-credential` presents to the server to get the session user's GitHub
// token. It is not the token and opens nothing else.
const GitCredentialVar = "CODETERM_GIT_CREDENTIAL"

// Exec registers a command that runs outside any session, such as the SSH
// front-end's exec and plain shells, for as long as it runs: it returns the
// variables that give it a git credential id like a session's shell gets
// (none when the hook is unset), and done, to call when it has ended.
func (m *Manager) Exec(userID string) (env []string, done func()) {
	id := m.newID()
	m.mu.Lock()
	if m.execs == nil {
		m.execs = map[string]string{}
	}
	m.execs[id] = userID
	m.mu.Unlock()
	var once sync.Once
	return m.gitCredentialEnv(userID, id), func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.execs, id)
			m.mu.Unlock()
		})
	}
}

// Live reports whether id names a live session or exec (see Exec) of the
// user: what a git credential id may be used for.
func (m *Manager) Live(userID, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sessions[id]; s != nil {
		return s.userID == userID
	}
	return m.execs[id] == userID && userID != ""
}

func (m *Manager) gitCredentialEnv(userID, sessionID string) []string {
	if m.cfg.GitCredential == nil {
		return nil
	}
	return []string{GitCredentialVar + "=" + m.cfg.GitCredential(userID, sessionID)}
}

// Environ builds a shell's environment: the allow-listed variables of the
// server's environment, overridden by opts (Home, User and the client's Env,
// which is filtered by the same allow-list plus the terminal variables a
// client may name: TERM, COLORTERM and GIT_PROTOCOL). A client that names no
// TERM is the web page's xterm.js: TERM=xterm-256color and COLORTERM=truecolor.
// USER and LOGNAME fall back to the OS account the shell runs as. The SSH
// front-end's exec uses it too so both paths follow one rule. History
// variables are added by the Manager, which knows where history lives.
func Environ(opts SpawnOptions, shellPath string) []string {
	vars := map[string]string{}
	order := []string{}
	set := func(k, v string) {
		if strings.IndexByte(v, 0) >= 0 {
			return
		}
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && envAllowed(k) {
			set(k, v)
		}
	}
	for _, kv := range opts.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && (envAllowed(k) || clientTermVar(k)) {
			set(k, v)
		}
	}
	home, login := opts.Home, opts.User
	if a := opts.Account; a != nil {
		// Never the server's: a user's shell sees its own account.
		if home == "" {
			home = a.Home
		}
		if login == "" {
			login = a.Name
		}
		// The server's PATH names the operator's directories (/root/go/bin).
		set("PATH", defaultPath)
	}
	if home != "" {
		set("HOME", home)
	}
	if login != "" {
		set("USER", login)
		set("LOGNAME", login)
	}
	if _, ok := vars["USER"]; !ok {
		if name := osUserName(); name != "" {
			set("USER", name)
		}
	}
	if _, ok := vars["LOGNAME"]; !ok {
		if name, ok := vars["USER"]; ok {
			set("LOGNAME", name)
		}
	}
	if shellPath != "" {
		set("SHELL", shellPath)
	}
	if _, ok := vars["PATH"]; !ok {
		set("PATH", defaultPath)
	}
	if _, ok := vars["TERM"]; !ok {
		set("TERM", "xterm-256color")
		set("COLORTERM", "truecolor")
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// clientTermVar reports the variables a client may set although the
// server's environment may not pass them on: they describe the client's
// terminal (TERM, COLORTERM) or its git (GIT_PROTOCOL, which GitHub's and
// OpenSSH's servers accept too, so that git speaks protocol v2).
func clientTermVar(name string) bool {
	return name == "TERM" || name == "COLORTERM" || name == "GIT_PROTOCOL"
}

// osUserName names the OS account the server (and so the shell) runs as;
// os/user looks it up once.
func osUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// historyEnv returns the variables that point a shell's history at file.
// bash and zsh read HISTFILE (zsh saves nothing unless SAVEHIST is set);
// fish keeps its own format and only lets a session name be chosen.
func historyEnv(shell, file, workspaceID string) []string {
	switch shell {
	case "fish":
		return []string{"fish_history=codeterm_" + fishName(workspaceID)}
	case "zsh":
		return []string{"HISTFILE=" + file, "SAVEHIST=10000", "HISTSIZE=10000"}
	}
	return []string{"HISTFILE=" + file}
}

// fishName keeps only the characters fish accepts in a history name.
func fishName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// child is a started shell as the session core holds it: its process and
// the PTY master, which is non-blocking and registered with the runtime
// poller so Close interrupts a pending Read and reads never pin an OS
// thread.
type child struct {
	cmd    *exec.Cmd
	master *os.File
	raw    syscall.RawConn // the master's descriptor, for reads and writes that must not wait
}

// startLocal runs spec.Path with spec.Args (a login shell's argv[0] is
// "-bash") on a new PTY, in a new session whose controlling terminal is
// that PTY, as spec.Account (nil: the server's user).
func startLocal(spec ProcessSpec) (*Started, error) {
	acct := spec.Account
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	if err := GiveTTY(tty, acct); err != nil {
		ptmx.Close()
		tty.Close()
		return nil, err
	}
	// pty.Open leaves the master in blocking mode (it calls Fd). Use a
	// non-blocking duplicate instead, which os.NewFile puts on the poller.
	fd, err := unix.FcntlInt(ptmx.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	ptmx.Close()
	if err != nil {
		tty.Close()
		return nil, fmt.Errorf("dup pty master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		tty.Close()
		return nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := setWinsize(master, spec.Cols, spec.Rows); err != nil {
		master.Close()
		tty.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:   spec.Path,
		Args:   spec.Args,
		Dir:    spec.Dir,
		Env:    spec.Env,
		Stdin:  tty,
		Stdout: tty,
		Stderr: tty,
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:  true,
			Setctty: true,
			Ctty:    0, // the child's stdin
		},
	}
	acct.Apply(cmd)
	err = acct.Start(cmd)
	// Our copy of the slave must go now: the master reports EIO (our end of
	// output) only once every slave descriptor is closed.
	tty.Close()
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Path, err)
	}
	return &Started{Cmd: cmd, Master: master}, nil
}

// GiveTTY hands a PTY's slave to the account its programs run as, as
// sshd does (owner the user, group tty, mode 0620), so that they may open
// it again by name (ssh and gpg prompts, tty(1)). A nil account keeps it.
func GiveTTY(tty *os.File, acct *isolation.Account) error {
	if acct == nil {
		return nil
	}
	gid := int(acct.GID)
	if g, err := user.LookupGroup("tty"); err == nil {
		if n, err := strconv.Atoi(g.Gid); err == nil {
			gid = n
		}
	}
	if err := tty.Chown(int(acct.UID), gid); err != nil {
		return fmt.Errorf("chown pty: %w", err)
	}
	if err := tty.Chmod(0o620); err != nil {
		return fmt.Errorf("chmod pty: %w", err)
	}
	return nil
}

// setWinsize resizes the PTY through the raw conn: calling Fd would switch
// the master back to blocking mode.
func setWinsize(master *os.File, cols, rows int) error {
	rc, err := master.SyscallConn()
	if err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	})
	if err == nil {
		err = ioErr
	}
	if err != nil {
		return fmt.Errorf("resize pty to %dx%d: %w", cols, rows, err)
	}
	return nil
}

// foregroundPgrp returns the PTY's foreground process group, or 0.
func foregroundPgrp(master *os.File) int {
	rc, err := master.SyscallConn()
	if err != nil {
		return 0
	}
	pg := 0
	rc.Control(func(fd uintptr) {
		if p, err := unix.IoctlGetInt(int(fd), unix.TIOCGPGRP); err == nil {
			pg = p
		}
	})
	return pg
}
