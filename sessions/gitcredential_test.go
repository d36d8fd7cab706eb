package sessions

import (
	"context"
	"strings"
	"testing"
)

// TestGitCredentialVar: the one codeterm variable reaches the shell with the
// value the hook gives for the session's user and id, and neither the
// server's nor a client's environment can set it.
func TestGitCredentialVar(t *testing.T) {
	t.Setenv(GitCredentialVar, "from-server-env")
	var gotUser, gotSession string
	e := newTestEnv(t, Config{GitCredential: func(userID, sessionID string) string {
		gotUser, gotSession = userID, sessionID
		return "cred-for-" + userID
	}})
	o := e.opts(0)
	o.Env = []string{GitCredentialVar + "=from-client"}
	s, err := e.m.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	input(t, a.a, "env; echo env-$((5+5))\n")
	a.waitFor("env-10")
	out := string(a.snapshot())
	if gotUser != o.UserID || gotSession != s.ID() {
		t.Fatalf("hook called with %q %q, want %q %q", gotUser, gotSession, o.UserID, s.ID())
	}
	if !strings.Contains(out, GitCredentialVar+"=cred-for-"+o.UserID) || strings.Contains(out, "from-") {
		t.Fatalf("shell environment:\n%s", out)
	}
}
