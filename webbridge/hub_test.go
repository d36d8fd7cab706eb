package webbridge

import (
	"context"
	"testing"

	"github.com/codeterm/codeterm/sessions"
)

// TestSessionChangeCostsTheSameForManySessions: a change of one session
// (a start, an attach, a detach) is diffed alone, not by listing and
// comparing every session of its owner; with a few hundred sessions
// the whole diffs were most of what the server allocated while they
// started, and the heap they left behind fragmented.
func TestSessionChangeCostsTheSameForManySessions(t *testing.T) {
	e := newEnv(t, envOptions{unlimited: true})
	e.dial(e.token(e.alice)) // alice is connected: her sessions are diffed
	// Each with a client, as in use: what a diff compares of a session
	// (its clients, who is attached) is then allocated.
	start := func() *sessions.Session {
		ctx := context.Background()
		s, err := e.sessions.Create(ctx, sessionsOpts(e))
		if err != nil {
			t.Fatal(err)
		}
		a, _, err := e.sessions.AttachAs(ctx, s, sessions.Who{UserID: e.alice.ID, User: e.alice.Name, Via: "ssh"}, sessions.AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return s
	}
	s := start()
	allocs := func() float64 {
		return testing.AllocsPerRun(50, func() { e.srv.syncSession(e.alice.ID, s) })
	}
	few := allocs()
	for range 60 {
		start()
	}
	many := allocs()
	// A whole diff costs a few allocations per session listed: 60 more
	// sessions would be a few hundred more per change.
	if many > few+30 {
		t.Fatalf("a change of one session allocated %.0f times with 61 sessions, %.0f with 1: it costs per session listed", many, few)
	}
	t.Logf("allocations per change: %.0f with 1 session, %.0f with 61", few, many)
}
