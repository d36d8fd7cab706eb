package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestGitHubTokens(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	alice, _ := s.CreateUser(ctx, "alice")
	bob, _ := s.CreateUser(ctx, "bob")
	if _, err := s.GitHubToken(ctx, alice.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty: %v", err)
	}
	if err := s.PutGitHubToken(ctx, &GitHubToken{UserID: alice.ID, Login: "octo", Sealed: []byte{1, 2}, Scope: "repo"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGitHubToken(ctx, &GitHubToken{UserID: alice.ID, Login: "octo", Sealed: []byte{3}, Scope: "repo"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GitHubToken(ctx, alice.ID)
	if err != nil || string(got.Sealed) != "\x03" || got.Login != "octo" || got.CreatedAt.IsZero() {
		t.Fatalf("replace: %+v %v", got, err)
	}
	if _, err := s.GitHubToken(ctx, bob.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob sees a token: %v", err)
	}
	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GitHubToken(ctx, alice.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token outlived its user: %v", err)
	}
	if err := s.DeleteGitHubToken(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
}
