package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// OSAccount maps a codeterm user to the OS account their processes run as.
type OSAccount struct {
	UserID  string
	OSUser  string
	Created bool // codeterm created the account (and may delete it)
}

// SetOSAccount records or replaces a user's OS account; ErrExists if
// another user is mapped to the same account.
func (s *Store) SetOSAccount(ctx context.Context, a *OSAccount) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO os_accounts(user_id, os_user, created) VALUES (?, ?, ?)
		ON CONFLICT(user_id) DO UPDATE SET os_user = excluded.os_user, created = excluded.created`,
		a.UserID, a.OSUser, a.Created)
	if isUnique(err) {
		return fmt.Errorf("os account %q: %w", a.OSUser, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("set os account of %s: %w", a.UserID, err)
	}
	return nil
}

// OSAccount returns a user's OS account, ErrNotFound when none is mapped.
func (s *Store) OSAccount(ctx context.Context, userID string) (*OSAccount, error) {
	a := &OSAccount{UserID: userID}
	err := s.db.QueryRowContext(ctx, `SELECT os_user, created FROM os_accounts WHERE user_id = ?`, userID).Scan(&a.OSUser, &a.Created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("os account of %s: %w", userID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("os account of %s: %w", userID, err)
	}
	return a, nil
}

// DeleteOSAccount forgets a user's OS account.
func (s *Store) DeleteOSAccount(ctx context.Context, userID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM os_accounts WHERE user_id = ?`, userID)
	if err != nil {
		return fmt.Errorf("delete os account of %s: %w", userID, err)
	}
	return nil
}
