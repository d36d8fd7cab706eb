package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, file string) *Store {
	t.Helper()
	s, err := Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMigrationsAndReopen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "codeterm.db")
	ctx := context.Background()
	s := open(t, file)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Fatalf("version %d, %v", v, err)
	}
	u, err := s.CreateUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, file)
	defer s.Close()
	v2, _ := s.SchemaVersion(ctx)
	if v2 != v {
		t.Fatalf("reopen changed version %d → %d", v, v2)
	}
	got, err := s.UserByName(ctx, "alice")
	if err != nil || got.ID != u.ID {
		t.Fatalf("user lost across reopen: %v", err)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q %v", mode, err)
	}
	for _, f := range []string{file, file + "-wal", file + "-shm"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v %v, want 0600", f, fi.Mode(), err)
		}
	}
}

// A server and the CLI open the same file at once and both write.
func TestConcurrentOpeners(t *testing.T) {
	file := filepath.Join(t.TempDir(), "codeterm.db")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := Open(ctx, file)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for j := 0; j < 20; j++ {
				if _, err := s.CreateUser(ctx, string(rune('a'+i))+string(rune('a'+j))); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := open(t, file)
	defer s.Close()
	users, _ := s.Users(ctx)
	if len(users) != 80 {
		t.Fatalf("%d users, want 80", len(users))
	}
}

func TestUsersKeysWorkspacesSessions(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	a, _ := s.CreateUser(ctx, "alice")
	b, _ := s.CreateUser(ctx, "bob")
	if _, err := s.CreateUser(ctx, "alice"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate user: %v", err)
	}
	k := &SSHKey{UserID: a.ID, Fingerprint: "SHA256:x", PublicKey: "ssh-ed25519 AAAA"}
	if err := s.AddSSHKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSSHKey(ctx, &SSHKey{UserID: b.ID, Fingerprint: "SHA256:x", PublicKey: "x"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate key: %v", err)
	}
	if u, err := s.UserByKeyFingerprint(ctx, "SHA256:x"); err != nil || u.ID != a.ID {
		t.Fatalf("by key: %v", err)
	}
	w := &Workspace{UserID: a.ID, Name: "demo", LocalPath: "/x"}
	if err := s.CreateWorkspace(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWorkspace(ctx, &Workspace{UserID: a.ID, Name: "demo", LocalPath: "/y"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate workspace: %v", err)
	}
	if err := s.CreateWorkspace(ctx, &Workspace{UserID: b.ID, Name: "demo", LocalPath: "/z"}); err != nil {
		t.Fatalf("same name for another user: %v", err)
	}
	if _, err := s.Workspace(ctx, b.ID, w.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob sees alice's workspace: %v", err)
	}
	now := time.Now()
	rec := &Session{ID: NewID(), WorkspaceID: w.ID, UserID: a.ID, Shell: "/bin/sh", Cols: 80, Rows: 24, CreatedAt: now, LastActivity: now, Status: SessionActive}
	if err := s.PutSession(ctx, rec); err != nil {
		t.Fatal(err)
	}
	code := 3
	rec.Status, rec.ExitCode = SessionTerminated, &code
	if err := s.PutSession(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, rec.ID)
	if err != nil || got.Status != SessionTerminated || got.ExitCode == nil || *got.ExitCode != 3 {
		t.Fatalf("session: %v %+v", err, got)
	}
	if err := s.DeleteUser(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, rec.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cascade: %v", err)
	}
	if _, err := s.UserByKeyFingerprint(ctx, "SHA256:x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key cascade: %v", err)
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID()
		if len(id) != 22 || seen[id] {
			t.Fatalf("bad id %q", id)
		}
		seen[id] = true
	}
}

func TestNewIDStartsWithALetter(t *testing.T) {
	for range 4096 {
		id := NewID()
		if c := id[0]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') || len(id) != 22 {
			t.Fatalf("id %q", id)
		}
	}
}
