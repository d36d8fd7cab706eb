package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codeterm/codeterm/audit"
	"github.com/codeterm/codeterm/store"
)

// TestShareAccess: a guest joins in their role, a viewer cannot type, an
// editor types into the owner's shell, and an uninvited user is told exactly
// what a missing id tells.
func TestShareAccess(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	s := e.create(0)
	bob := e.other
	carol, err := e.st.CreateUser(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}

	_, _, errCarol := e.m.Join(ctx, carol.ID, s.ID())
	_, _, errMissing := e.m.Join(ctx, carol.ID, "no-such-session")
	if !errors.Is(errCarol, ErrNotFound) || !errors.Is(errMissing, ErrNotFound) {
		t.Fatalf("uninvited: %v, missing: %v", errCarol, errMissing)
	}
	if _, _, err := e.m.Join(ctx, bob.ID, s.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob before the invitation: %v", err)
	}
	if _, err := e.m.ShareSession(ctx, Who{UserID: bob.ID}, s.ID(), Who{UserID: carol.ID}, RoleViewer, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a non-owner shares: %v", err)
	}
	if _, err := e.m.ShareSession(ctx, Who{UserID: e.user.ID}, s.ID(), Who{UserID: bob.ID}, "admin", 0); !errors.Is(err, ErrInvalidRole) {
		t.Fatalf("bad role: %v", err)
	}
	if _, err := e.m.ShareSession(ctx, Who{UserID: e.user.ID}, s.ID(), Who{UserID: bob.ID}, RoleViewer, 0); err != nil {
		t.Fatal(err)
	}
	_, role, err := e.m.Join(ctx, bob.ID, s.ID())
	if err != nil || role != RoleViewer {
		t.Fatalf("bob joins: %v %v", role, err)
	}
	// A guest cannot share further, nor kill.
	if _, err := e.m.ShareSession(ctx, Who{UserID: bob.ID}, s.ID(), Who{UserID: carol.ID}, RoleViewer, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("guest shares further: %v", err)
	}
	if err := e.m.Kill(bob.ID, s.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("guest kills: %v", err)
	}
	if got := e.m.List(bob.ID, ""); len(got) != 0 {
		t.Fatalf("guest lists the owner's sessions: %d", len(got))
	}

	owner, _, err := e.m.AttachAs(ctx, s, Who{UserID: e.user.ID, User: "alice", Via: "ssh"}, AttachOptions{LastSeq: -1, Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	oc := collect(t, owner)
	va, _, err := e.m.AttachAs(ctx, s, Who{UserID: bob.ID, User: "bob", Via: "browser"}, AttachOptions{LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	vc := collect(t, va)
	if _, _, err := e.m.AttachAs(ctx, s, Who{UserID: carol.ID, User: "carol", Via: "ssh"}, AttachOptions{LastSeq: -1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("carol attaches: %v", err)
	}
	if !va.ReadOnly() {
		t.Fatal("viewer attachment is writable")
	}
	want := []Attendee{{"alice", RoleOwner, "ssh"}, {"bob", RoleViewer, "browser"}}
	if got := s.Attendees(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("attendees %+v", got)
	}
	input(t, owner, "echo from-$((40+2))\n")
	vc.waitFor("from-42")

	// Upgrading detaches the viewer, who attaches again as editor.
	if _, err := e.m.ShareSession(ctx, Who{UserID: e.user.ID}, s.ID(), Who{UserID: bob.ID}, RoleEditor, 0); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, vc)
	ea, _, err := e.m.AttachAs(ctx, s, Who{UserID: bob.ID, User: "bob", Via: "ssh"}, AttachOptions{LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	ec := collect(t, ea)
	input(t, ea, "echo bob-$((6*7))\n")
	oc.waitFor("bob-42")

	if err := e.m.UnshareSession(ctx, Who{UserID: e.user.ID}, s.ID(), Who{UserID: bob.ID}); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ec)
	if _, _, err := e.m.Join(ctx, bob.ID, s.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob after unshare: %v", err)
	}
	if got := s.Attendees(); len(got) != 1 {
		t.Fatalf("attendees after unshare %+v", got)
	}
}

// TestShareRevokedElsewhere: a share removed in the store by another
// process (the CLI) detaches the guest at the next check; an expired share
// too.
func TestShareRevokedElsewhere(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	s := e.create(0)
	bob := e.other
	if _, err := e.m.ShareSession(ctx, Who{UserID: e.user.ID}, s.ID(), Who{UserID: bob.ID}, RoleEditor, 0); err != nil {
		t.Fatal(err)
	}
	a, _, err := e.m.AttachAs(ctx, s, Who{UserID: bob.ID, User: "bob", Via: "ssh"}, AttachOptions{LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, a)
	if err := e.st.DeleteShare(ctx, s.ID(), bob.ID); err != nil {
		t.Fatal(err)
	}
	e.m.EnforceShares(ctx)
	waitClosed(t, c)

	if err := e.st.PutShare(ctx, &store.Share{SessionID: s.ID(), OwnerID: e.user.ID, GuestID: bob.ID, Role: "viewer",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	a, _, err = e.m.AttachAs(ctx, s, Who{UserID: bob.ID, User: "bob", Via: "ssh"}, AttachOptions{LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	c = collect(t, a)
	if err := e.st.PutShare(ctx, &store.Share{SessionID: s.ID(), OwnerID: e.user.ID, GuestID: bob.ID, Role: "viewer",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	e.m.EnforceShares(ctx)
	waitClosed(t, c)
	if list, _ := e.m.SharedWith(ctx, bob.ID); len(list) != 0 {
		t.Fatalf("expired share still listed: %+v", list)
	}
}

func waitClosed(t *testing.T, c *collector) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		t.Fatal("guest still attached")
	}
	if !errors.Is(c.err, ErrClosed) {
		t.Fatalf("guest ended with %v", c.err)
	}
}

// TestAuditLog: attach, share, the guest's attach and detach with the bytes
// typed (never the bytes), unshare and kill are recorded in order.
func TestAuditLog(t *testing.T) {
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.log")
	al, err := audit.Open(path, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	e.m.SetAudit(al)
	s := e.create(0)
	alice := Who{UserID: e.user.ID, User: "alice", Via: "browser", Addr: "127.0.0.1:5000"}
	bob := Who{UserID: e.other.ID, User: "bob", Via: "ssh", Addr: "127.0.0.1:6000"}

	oa, _, err := e.m.AttachAs(ctx, s, alice, AttachOptions{LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	oc := collect(t, oa)
	if _, err := e.m.ShareSession(ctx, alice, s.ID(), bob, RoleEditor, time.Hour); err != nil {
		t.Fatal(err)
	}
	ba, _, err := e.m.AttachAs(ctx, s, bob, AttachOptions{LastSeq: -1})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "echo hunter-$((1+1))\n"
	input(t, ba, secret)
	oc.waitFor("hunter-2")
	ba.Close()
	if err := e.m.UnshareSession(ctx, alice, s.ID(), bob); err != nil {
		t.Fatal(err)
	}
	if err := e.m.KillAs(alice, s.ID()); err != nil {
		t.Fatal(err)
	}
	oc.waitExit()
	oa.Close()

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "hunter") {
		t.Fatal("the audit log holds typed bytes")
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ev audit.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if ev.Session != s.ID() || ev.Time.IsZero() {
			t.Fatalf("event %+v", ev)
		}
		d := ev.Event + " " + ev.User + " " + ev.Via + " " + ev.Addr + " " + ev.Role + " " + ev.Guest
		if ev.Typed != nil {
			d += " typed=" + strconv.FormatInt(*ev.Typed, 10)
		}
		got = append(got, d)
	}
	want := []string{
		"attach alice browser 127.0.0.1:5000 owner ",
		"share alice browser 127.0.0.1:5000 editor bob",
		"attach bob ssh 127.0.0.1:6000 editor ",
		"detach bob ssh 127.0.0.1:6000 editor  typed=" + strconv.Itoa(len(secret)),
		"unshare alice browser 127.0.0.1:5000  bob",
		"kill alice browser 127.0.0.1:5000 owner ",
		"detach alice browser 127.0.0.1:5000 owner  typed=0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
