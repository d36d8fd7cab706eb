package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/gitcred"
	"github.com/codeterm/codeterm/sessions"
)

// TestGitCredentialCommand drives the real binary as git would, against a
// stand-in for the server's socket.
func TestGitCredentialCommand(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(t.TempDir(), "cred.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reqs := make(chan gitcred.Request, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			var req gitcred.Request
			json.NewDecoder(bufio.NewReader(conn)).Decode(&req)
			reqs <- req
			json.NewEncoder(conn).Encode(gitcred.Response{Username: "x-access-token", Password: "gho_fromserver"})
			conn.Close()
		}
	}()
	run := func(cred string, args ...string) (string, string, int) {
		c := e.cmd(append([]string{"git-credential", "--socket", sock}, args...)...)
		if cred != "" {
			c.Env = append(c.Env, sessions.GitCredentialVar+"="+cred)
		}
		c.Stdin = strings.NewReader("protocol=https\nhost=github.com\npath=octo/demo.git\n\n")
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return out.String(), errb.String(), code
	}

	out, errs, code := run("u.s.mac", "get")
	if code != 0 || out != "username=x-access-token\npassword=gho_fromserver\n" {
		t.Fatalf("get: %d %q %q", code, out, errs)
	}
	if req := <-reqs; req.Credential != "u.s.mac" || req.Protocol != "https" || req.Host != "github.com" {
		t.Fatalf("request %+v", req)
	}
	// Outside a session: nothing for git, a word for the user.
	if out, errs, code := run("", "get"); code != 0 || out != "" || !strings.Contains(errs, "not inside a codeterm terminal session") {
		t.Fatalf("no session: %d %q %q", code, out, errs)
	}
	// store and erase never reach the server.
	for _, action := range []string{"store", "erase"} {
		if out, _, code := run("u.s.mac", action); code != 0 || out != "" || len(reqs) != 0 {
			t.Fatalf("%s: %d %q", action, code, out)
		}
	}
	e.fails("usage", "git-credential")
}

func TestGitHubIntegrationWiring(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	a := auth.New(nil, make([]byte, 32), 0, 0)
	if gh, err := githubIntegration(cfg, a); gh != nil || err != nil || gitCredentialFunc(cfg, a) != nil {
		t.Fatalf("unconfigured: %v %v", gh, err)
	}
	cfg.GitHub.ClientID = "cid"
	gh, err := githubIntegration(cfg, a)
	if err != nil || gh == nil || gitCredentialFunc(cfg, a) == nil {
		t.Fatalf("configured: %v", err)
	}
	if gh.CredentialSocket != filepath.Join(cfg.DataDir, "git-credential.sock") ||
		!strings.HasPrefix(gh.CredentialHelper, "!'") || !strings.HasSuffix(gh.CredentialHelper, " git-credential --socket '"+gh.CredentialSocket+"'") {
		t.Fatalf("helper %q", gh.CredentialHelper)
	}
	if got := shellQuote("/a b/it's"); got != `'/a b/it'\''s'` {
		t.Fatalf("quote %s", got)
	}
}
