package sessions

import (
	"strings"
	"testing"
)

func TestExecScopesAreLiveWhileTheyRun(t *testing.T) {
	e := newTestEnv(t, Config{GitCredential: func(userID, id string) string { return userID + ":" + id }})
	env, done := e.m.Exec(e.user.ID)
	if len(env) != 1 || !strings.HasPrefix(env[0], GitCredentialVar+"="+e.user.ID+":") {
		t.Fatalf("exec env %q", env)
	}
	id := strings.TrimPrefix(env[0], GitCredentialVar+"="+e.user.ID+":")
	if !e.m.Live(e.user.ID, id) {
		t.Fatal("a running exec is not live")
	}
	if e.m.Live(e.other.ID, id) {
		t.Fatal("another user's exec counts as live")
	}
	done()
	done() // safe twice
	if e.m.Live(e.user.ID, id) {
		t.Fatal("an ended exec is still live")
	}
	s := e.create(0)
	if !e.m.Live(e.user.ID, s.ID()) || e.m.Live(e.other.ID, s.ID()) {
		t.Fatal("session liveness")
	}
	if e.m.Live(e.user.ID, "nosuch") || e.m.Live("", "") {
		t.Fatal("unknown ids are live")
	}
	// Without the hook an exec gets no variable.
	plain := NewManager(Config{}, nil, nil)
	if env, done := plain.Exec(e.user.ID); len(env) != 0 {
		t.Fatalf("exec env without the hook: %q", env)
	} else {
		done()
	}
}
