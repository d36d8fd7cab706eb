package store

import (
	"context"
	"fmt"
	"time"
)

// Share is a session shared by its owner with a guest.
type Share struct {
	SessionID string
	OwnerID   string
	GuestID   string
	Role      string // "viewer" or "editor"
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// Live reports whether the share is still in force at now.
func (r *Share) Live(now time.Time) bool {
	return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt)
}

// PutShare creates a share or replaces the role and expiry of an existing one.
func (s *Store) PutShare(ctx context.Context, r *Share) error {
	var exp int64
	if !r.ExpiresAt.IsZero() {
		exp = millis(r.ExpiresAt)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO session_shares (session_id, owner_id, guest_id, role, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(session_id, guest_id) DO UPDATE SET role=excluded.role, expires_at=excluded.expires_at`,
		r.SessionID, r.OwnerID, r.GuestID, r.Role, millis(r.CreatedAt), exp)
	if err != nil {
		return fmt.Errorf("share session %s: %w", r.SessionID, err)
	}
	return nil
}

// DeleteShare removes a share; ErrNotFound if there was none.
func (s *Store) DeleteShare(ctx context.Context, sessionID, guestID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM session_shares WHERE session_id = ? AND guest_id = ?`, sessionID, guestID)
	if err != nil {
		return fmt.Errorf("unshare session %s: %w", sessionID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("share of session %s: %w", sessionID, ErrNotFound)
	}
	return nil
}

const shareCols = `session_id, owner_id, guest_id, role, created_at, expires_at`

func (s *Store) shares(ctx context.Context, where string, args ...any) ([]*Share, error) {
	// Prepared: a connected user's session list reads their shares at
	// every change of their sessions. where is one of a few constants.
	st, err := s.prepared(ctx, `SELECT `+shareCols+` FROM session_shares `+where+` ORDER BY created_at, guest_id`)
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	defer rows.Close()
	var out []*Share
	for rows.Next() {
		var r Share
		var created, exp int64
		if err := rows.Scan(&r.SessionID, &r.OwnerID, &r.GuestID, &r.Role, &created, &exp); err != nil {
			return nil, fmt.Errorf("list shares: %w", err)
		}
		r.CreatedAt = fromMillis(created)
		if exp != 0 {
			r.ExpiresAt = fromMillis(exp)
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}

// Share reads the share of a session with a guest; ErrNotFound if none.
func (s *Store) Share(ctx context.Context, sessionID, guestID string) (*Share, error) {
	list, err := s.shares(ctx, `WHERE session_id = ? AND guest_id = ?`, sessionID, guestID)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("share of session %s: %w", sessionID, ErrNotFound)
	}
	return list[0], nil
}

// SharesOfSession lists who a session is shared with, oldest first.
func (s *Store) SharesOfSession(ctx context.Context, sessionID string) ([]*Share, error) {
	return s.shares(ctx, `WHERE session_id = ?`, sessionID)
}

// SharesWith lists the sessions shared with a guest, oldest first.
func (s *Store) SharesWith(ctx context.Context, guestID string) ([]*Share, error) {
	return s.shares(ctx, `WHERE guest_id = ?`, guestID)
}

// AllShares lists every share (the server checks attached guests against
// it, since another process may have changed it).
func (s *Store) AllShares(ctx context.Context) ([]*Share, error) {
	return s.shares(ctx, ``)
}
