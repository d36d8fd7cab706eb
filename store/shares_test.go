package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestShares: a share is upserted, listed by session and by guest, expires,
// is deleted once, and goes with its guest.
func TestShares(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	alice, _ := s.CreateUser(ctx, "alice")
	bob, _ := s.CreateUser(ctx, "bob")
	ws := &Workspace{UserID: alice.ID, Name: "demo", LocalPath: "/tmp/demo"}
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sess := &Session{ID: "s1", WorkspaceID: ws.ID, UserID: alice.ID, Shell: "sh", Cols: 80, Rows: 24,
		CreatedAt: now, LastActivity: now, Status: SessionActive}
	if err := s.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	sh := &Share{SessionID: "s1", OwnerID: alice.ID, GuestID: bob.ID, Role: "viewer", CreatedAt: now}
	if err := s.PutShare(ctx, sh); err != nil {
		t.Fatal(err)
	}
	sh.Role, sh.ExpiresAt = "editor", now.Add(time.Hour)
	if err := s.PutShare(ctx, sh); err != nil {
		t.Fatal(err)
	}
	got, err := s.Share(ctx, "s1", bob.ID)
	if err != nil || got.Role != "editor" || !got.Live(now) || got.Live(now.Add(2*time.Hour)) {
		t.Fatalf("share %+v %v", got, err)
	}
	if err := s.PutShare(ctx, &Share{SessionID: "s1", OwnerID: alice.ID, GuestID: bob.ID, Role: "admin", CreatedAt: now}); err == nil {
		t.Fatal("a role outside viewer/editor was stored")
	}
	for _, list := range [][]*Share{must(s.SharesOfSession(ctx, "s1")), must(s.SharesWith(ctx, bob.ID)), must(s.AllShares(ctx))} {
		if len(list) != 1 || list[0].GuestID != bob.ID {
			t.Fatalf("list %+v", list)
		}
	}
	if err := s.DeleteShare(ctx, "s1", bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteShare(ctx, "s1", bob.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	s.PutShare(ctx, &Share{SessionID: "s1", OwnerID: alice.ID, GuestID: bob.ID, Role: "viewer", CreatedAt: now})
	if err := s.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if list := must(s.AllShares(ctx)); len(list) != 0 {
		t.Fatalf("a deleted guest's share remains: %+v", list)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
