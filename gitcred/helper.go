// Package gitcred is the git credential socket: git in a user's shell runs
// `codeterm git-credential` (Helper), which presents the shell's credential
// id (sessions.GitCredentialVar) on the server's unix socket (Server) and
// gets back the session user's GitHub token. SSH sessions and browser
// terminals use it alike, so it lives beside auth and workspaces, not in a
// front-end.
package gitcred

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/codeterm/codeterm/sessions"
)

// Helper is `codeterm git-credential ACTION`, a git credential
// helper (git help credential). For "get" it reads git's request from in,
// asks the server on socket with the session's credential id from environ,
// and prints username and password to out. "store" and "erase" are
// accepted and ignored: the server is the only place the token lives.
// Without a session credential, or for a host that is not GitHub's, it
// prints nothing so git goes on to its other helpers or its prompt.
func Helper(action, socket string, environ []string, in io.Reader, out, diag io.Writer) error {
	req, err := readCredentialRequest(in)
	if err != nil {
		return fmt.Errorf("git-credential: read request: %w", err)
	}
	if action != "get" {
		return nil
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, sessions.GitCredentialVar+"="); ok {
			req.Credential = v
		}
	}
	if req.Credential == "" {
		fmt.Fprintln(diag, "codeterm git-credential: not inside a codeterm terminal session; no GitHub credentials given")
		return nil
	}
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return fmt.Errorf("git-credential: is the codeterm server running? %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fmt.Errorf("git-credential: send request: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(bufio.NewReader(io.LimitReader(conn, 64<<10))).Decode(&resp); err != nil {
		return fmt.Errorf("git-credential: read answer: %w", err)
	}
	if resp.Error != "" {
		fmt.Fprintf(diag, "codeterm git-credential: %s\n", resp.Error)
		return nil
	}
	if resp.Password == "" {
		return nil
	}
	// A newline or NUL would let a value add attributes of its own.
	if strings.ContainsAny(resp.Username+resp.Password, "\n\x00") {
		return errors.New("git-credential: malformed answer")
	}
	_, err = fmt.Fprintf(out, "username=%s\npassword=%s\n", resp.Username, resp.Password)
	return err
}

// readCredentialRequest reads git's key=value lines up to a blank line or
// the end of input.
func readCredentialRequest(in io.Reader) (Request, error) {
	var req Request
	sc := bufio.NewScanner(io.LimitReader(in, 64<<10))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "protocol":
			req.Protocol = v
		case "host":
			req.Host = v
		}
	}
	return req, sc.Err()
}
