package workspaces

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Environment variables that carry a clone's credentials from cloneGit to
// the credential helper it configures, so the secret is in no argv and no
// file.
const (
	cloneUserEnv = "CODETERM_CLONE_USER"
	clonePassEnv = "CODETERM_CLONE_PASS"
)

// cloneCredentialHelper answers git's "get" with the credentials in the
// environment and ignores "store" and "erase". It reads its request first:
// git writes one, and a helper that exits before reading it could get git
// killed by SIGPIPE.
const cloneCredentialHelper = `!f() { while read -r l && test -n "$l"; do :; done; ` +
	`if test "$1" = get; then printf 'username=%s\npassword=%s\n' "$` + cloneUserEnv + `" "$` + clonePassEnv + `"; fi; }; f`

// cloneWaitDelay bounds how long Wait waits for git's stderr to close once
// git has exited or been killed.
const cloneWaitDelay = 10 * time.Second

// useGitBinary reports whether Create clones rem with the git binary rather
// than go-git. Only http(s) remotes go through git: for ssh the credentials
// are an ssh.AuthMethod (a key in memory) that the git binary cannot use,
// so ssh clones keep using go-git.
func (m *Manager) useGitBinary(rem remote) bool {
	return m.git != "" && !rem.ssh
}

// cloneGit clones rem into dir with the git binary, parsing `git clone
// --progress` from its stderr into tr: unlike go-git, git reports the
// client's own phases (Receiving objects, Resolving deltas, Updating files),
// which is where a big clone spends its time.
//
// cred (from authFor) is handed to git through its environment only; the
// URL git sees carries no credentials, so none reaches argv, .git/config or
// git's messages. fallback is true when git could not be started at all,
// with nothing written to dir: the caller then clones with go-git.
func (m *Manager) cloneGit(ctx context.Context, dir string, rem remote, opts CreateOptions, auth transport.AuthMethod, tr *progressTracker) (branch string, fallback bool, err error) {
	var cred *githttp.BasicAuth
	switch a := auth.(type) {
	case nil:
	case *githttp.BasicAuth:
		cred = a
	default:
		return "", false, fmt.Errorf("git clone: unsupported credentials %T for %s", auth, rem.clean)
	}
	home, err := os.MkdirTemp("", "codeterm-git-home-")
	if err != nil {
		return "", false, fmt.Errorf("git clone: %w", err)
	}
	defer os.RemoveAll(home)

	cmd, err := gitCloneCommand(ctx, m.git, dir, home, rem, opts, cred)
	if err != nil {
		return "", false, err
	}
	out := &cloneStderr{tr: tr}
	if cred != nil {
		out.secret = cred.Password
	}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			m.log.Warn("git binary unusable; clone falls back to go-git", "git", m.git, "err", err)
			return "", true, nil
		}
		return "", false, fmt.Errorf("git clone: %w", err)
	}
	if m.cloneStarted != nil {
		m.cloneStarted(cmd)
	}
	// Wait returns once git has exited and every process of its group
	// (git-remote-http, index-pack) has closed stderr, so nothing is still
	// writing into dir when the caller removes it.
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		return "", false, errors.New(out.failure(err))
	}
	branch, err = finishClone(dir, rem, opts)
	return branch, false, err
}

// gitCloneCommand builds the git clone cloneGit runs, in its own process
// group so that a cancel kills git and its helpers together.
//
// Credentials, if any, are in cmd.Env only, for a credential helper scoped
// to the remote's origin (a redirect to another host gets none). The rest of
// the environment is the process's own minus every GIT_* variable, with HOME
// pointing at home (an empty directory) and no system configuration, so
// that neither the operator's git configuration nor their credential store
// is read or written; proxy and TLS variables (http_proxy, SSL_CERT_FILE...)
// are kept. git never prompts: GIT_TERMINAL_PROMPT=0 and an empty
// GIT_ASKPASS (which also disables SSH_ASKPASS).
func gitCloneCommand(ctx context.Context, gitBin, dir, home string, rem remote, opts CreateOptions, cred *githttp.BasicAuth) (*exec.Cmd, error) {
	u, err := url.Parse(rem.clean)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("git clone: remote %s is not a plain http(s) URL", RedactURL(rem.clean))
	}
	args := []string{
		// Only our helper, whatever configuration git finds.
		"-c", "credential.helper=",
		// Nothing but http(s), even if something asks (submodules are not
		// cloned, but this does not depend on it).
		"-c", "protocol.allow=never",
		"-c", "protocol.http.allow=always",
		"-c", "protocol.https.allow=always",
	}
	if rem.target.checked {
		// git connects to the addresses checked and nowhere else: a
		// redirect would lead to a host never checked.
		args = append(args, "-c", "http.followRedirects=false")
		if pin := rem.target.curlResolve(); pin != "" {
			args = append(args, "-c", "http.curloptResolve="+pin)
		}
	}
	env := cloneEnv(home)
	if cred != nil && (cred.Username != "" || cred.Password != "") {
		if strings.ContainsAny(cred.Username+cred.Password, "\x00\r\n") {
			return nil, errors.New("git clone: credentials contain a line break")
		}
		origin := u.Scheme + "://" + u.Host
		args = append(args, "-c", "credential."+origin+".helper="+cloneCredentialHelper)
		env = append(env, cloneUserEnv+"="+cred.Username, clonePassEnv+"="+cred.Password)
	}
	args = append(args, "clone", "--progress", "--no-recurse-submodules")
	if opts.Branch != "" {
		args = append(args, "--branch="+opts.Branch)
	}
	if opts.Depth > 0 {
		// As go-git's clone: a shallow clone is single-branch.
		args = append(args, "--depth="+strconv.Itoa(opts.Depth), "--single-branch")
	}
	args = append(args, "--", rem.clean, dir)

	cmd := exec.CommandContext(ctx, gitBin, args...)
	cmd.Env = env
	cmd.WaitDelay = cloneWaitDelay
	setProcessGroup(cmd)
	return cmd, nil
}

// cloneEnv is the environment of a git clone, without credentials.
func cloneEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToUpper(k), "GIT_"),
			strings.HasPrefix(k, "CODETERM_CLONE_"),
			k == "HOME", k == "XDG_CONFIG_HOME", k == "SSH_ASKPASS", k == "LC_ALL":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		// The progress parser reads git's English phase names.
		"LC_ALL=C",
	)
}

// cloneStderr receives git clone's stderr: progress goes to the tracker,
// and the last few other lines are kept, redacted, for the error message.
type cloneStderr struct {
	tr     *progressTracker
	secret string

	mu      sync.Mutex
	partial []byte
	tail    []string
}

const (
	stderrTailLines = 6
	stderrLineMax   = 400
)

func (s *cloneStderr) Write(p []byte) (int, error) {
	s.tr.Write(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := strings.IndexAny(string(s.partial), "\r\n")
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
		s.keep(line)
	}
	if len(s.partial) > 4*stderrLineMax {
		s.partial = s.partial[:0]
	}
	return len(p), nil
}

func (s *cloneStderr) keep(line string) {
	// "remote:" lines are the remote's own words (an error page's body
	// among them): they may hold anything the remote serves, so only
	// git's summary of what went wrong is kept.
	if line == "" || progressLine.MatchString(line) || strings.HasPrefix(line, "Cloning into") || strings.HasPrefix(line, "remote:") {
		return
	}
	if len(line) > stderrLineMax {
		line = line[:stderrLineMax] + "..."
	}
	s.tail = append(s.tail, s.redact(line))
	if len(s.tail) > stderrTailLines {
		s.tail = s.tail[1:]
	}
}

var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s'"]+`)

// redact removes URL credentials and the clone's secret from a line of git
// output. git is never given either, so this is only a second line of
// defence.
func (s *cloneStderr) redact(line string) string {
	line = urlInText.ReplaceAllStringFunc(line, RedactURL)
	if s.secret != "" {
		line = strings.ReplaceAll(line, s.secret, "REDACTED")
	}
	return line
}

// failure describes a failed git clone: what git said last, and how it ended.
func (s *cloneStderr) failure(err error) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.keep(strings.TrimSpace(string(s.partial)))
		s.partial = s.partial[:0]
	}
	if len(s.tail) == 0 {
		return err.Error()
	}
	return strings.Join(s.tail, "; ") + " (" + err.Error() + ")"
}
