package sshd

import (
	"context"
	"strings"
	"testing"

	"github.com/codeterm/codeterm/sessions"
)

// TestSharedSessionOverSSH: bob, invited as viewer, attaches to alice's
// session with real OpenSSH by @SESSIONID, sees her screen and cannot type;
// as editor he types into her shell; unshared, he is detached; carol, not
// invited, is told what a missing id tells.
func TestSharedSessionOverSSH(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	carol, err := h.auth.AddUser(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	keyCarol := h.newKey(carol)

	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	cmd, want := marker(21)
	a.send(cmd)
	a.expect(want)
	list := h.sessions.List(h.alice.ID, "")
	if len(list) != 1 {
		t.Fatalf("alice has %d sessions", len(list))
	}
	id := list[0].ID()

	_, missing, code1 := h.ssh(nil, keyCarol, "-tt", "carol@127.0.0.1", "@no-such-session")
	_, denied, code2 := h.ssh(nil, keyCarol, "-tt", "carol@127.0.0.1", "@"+id)
	if code1 != 1 || code2 != 1 || strings.ReplaceAll(denied, id, "X") != strings.ReplaceAll(missing, "no-such-session", "X") {
		t.Fatalf("carol: %d %q; missing: %d %q", code2, denied, code1, missing)
	}
	_, early, _ := h.ssh(nil, h.keyBob, "-tt", "bob@127.0.0.1", "@"+id)
	if !strings.Contains(early, "no session") {
		t.Fatalf("bob before the invitation: %q", early)
	}

	if _, err := h.sessions.ShareSession(ctx, sessions.Who{UserID: h.alice.ID}, id, sessions.Who{UserID: h.bob.ID}, sessions.RoleViewer, 0); err != nil {
		t.Fatal(err)
	}
	b := h.term(h.keyBob, "bob@127.0.0.1", "@"+id)
	b.expect(want) // the screen as alice has it
	cmd, want = marker(22)
	a.send(cmd)
	b.expect(want)
	found := false
	for _, at := range list[0].Attendees() {
		found = found || at == sessions.Attendee{User: "bob", Role: sessions.RoleViewer, Via: "ssh"}
	}
	if !found {
		t.Fatalf("attendees %+v", list[0].Attendees())
	}
	// Recording switched on: every SSH client is told, the guest too.
	if err := h.sessions.SetRecording(sessions.Who{UserID: h.alice.ID}, id, true); err != nil {
		t.Fatal(err)
	}
	a.expect("this session is being recorded")
	b.expect("this session is being recorded")
	if err := h.sessions.SetRecording(sessions.Who{UserID: h.alice.ID}, id, false); err != nil {
		t.Fatal(err)
	}
	a.expect("recording stopped")
	b.expect("recording stopped")
	b.send("echo bob-typed\r")
	b.expect("you are a viewer here")
	cmd, want = marker(23)
	a.send(cmd)
	if out := a.expect(want); strings.Contains(out, "bob-typed") {
		t.Fatalf("a viewer's input reached the shell: %q", out)
	}

	// Upgraded to editor: detached, then attached again at the keyboard.
	if _, err := h.sessions.ShareSession(ctx, sessions.Who{UserID: h.alice.ID}, id, sessions.Who{UserID: h.bob.ID}, sessions.RoleEditor, 0); err != nil {
		t.Fatal(err)
	}
	b.expect("no longer shared with you as viewer")
	if code := b.wait(); code != 1 {
		t.Fatalf("bob's client ended with %d", code)
	}
	b = h.term(h.keyBob, "bob@127.0.0.1", "@"+id)
	cmd, want = marker(24)
	b.send(cmd)
	a.expect(want)

	// Unshared: bob is detached at once.
	if err := h.sessions.UnshareSession(ctx, sessions.Who{UserID: h.alice.ID}, id, sessions.Who{UserID: h.bob.ID}); err != nil {
		t.Fatal(err)
	}
	b.expect("no longer shared with you as editor")
	if code := b.wait(); code != 1 {
		t.Fatalf("bob's client ended with %d", code)
	}

	// Removed by another process (the CLI): detached at the next check.
	if _, err := h.sessions.ShareSession(ctx, sessions.Who{UserID: h.alice.ID}, id, sessions.Who{UserID: h.bob.ID}, sessions.RoleViewer, 0); err != nil {
		t.Fatal(err)
	}
	b = h.term(h.keyBob, "bob@127.0.0.1", "@"+id)
	b.expect(want)
	if err := h.store.DeleteShare(ctx, id, h.bob.ID); err != nil {
		t.Fatal(err)
	}
	h.sessions.EnforceShares(ctx)
	b.expect("no longer shared with you")
	b.wait()

	// The owner ends the session: the guest's client ends with it.
	if _, err := h.sessions.ShareSession(ctx, sessions.Who{UserID: h.alice.ID}, id, sessions.Who{UserID: h.bob.ID}, sessions.RoleViewer, 0); err != nil {
		t.Fatal(err)
	}
	b = h.term(h.keyBob, "bob@127.0.0.1", "@"+id)
	b.expect(want)
	if err := h.sessions.Kill(h.alice.ID, id); err != nil {
		t.Fatal(err)
	}
	b.wait()
}
