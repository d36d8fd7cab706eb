package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// GitHubToken is a user's GitHub OAuth token as stored. Sealed is opaque to
// the store: auth seals and opens it. Every method takes the user id, and
// none lists tokens, so a request can only ever reach its own user's row.
type GitHubToken struct {
	UserID    string
	Login     string
	Sealed    []byte
	Scope     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PutGitHubToken stores or replaces the user's token.
func (s *Store) PutGitHubToken(ctx context.Context, t *GitHubToken) error {
	now := time.Now().UTC()
	_, err := s.db.ExecContext(ctx, `INSERT INTO github_tokens(user_id, login, token, scope, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(user_id) DO UPDATE SET login = excluded.login, token = excluded.token,
			scope = excluded.scope, updated_at = excluded.updated_at`,
		t.UserID, t.Login, t.Sealed, t.Scope, millis(now), millis(now))
	if err != nil {
		// The error text never contains the bound values, so the token
		// cannot leak through it.
		return fmt.Errorf("store github token of user %s: %w", t.UserID, err)
	}
	return nil
}

// GitHubToken returns the user's token; ErrNotFound if there is none.
func (s *Store) GitHubToken(ctx context.Context, userID string) (*GitHubToken, error) {
	t := GitHubToken{UserID: userID}
	var created, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT login, token, scope, created_at, updated_at FROM github_tokens WHERE user_id = ?`, userID).
		Scan(&t.Login, &t.Sealed, &t.Scope, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("github token of user %s: %w", userID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("github token of user %s: %w", userID, err)
	}
	t.CreatedAt, t.UpdatedAt = fromMillis(created), fromMillis(updated)
	return &t, nil
}

// DeleteGitHubToken forgets the user's token (GitHub refused it, or the
// user signed out of GitHub); deleting a missing one is not an error.
func (s *Store) DeleteGitHubToken(ctx context.Context, userID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM github_tokens WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete github token of user %s: %w", userID, err)
	}
	return nil
}
