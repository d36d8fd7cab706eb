package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RevokeToken records a token id as revoked until its expiry.
func (s *Store) RevokeToken(ctx context.Context, jti string, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO revoked_tokens(jti, expires_at) VALUES (?, ?)`, jti, millis(expires))
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// TokenRevoked reports whether a token id was revoked.
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?`, jti).Scan(&n)
	return n > 0, err
}

// RevokedTokens returns which of the token ids were revoked.
func (s *Store) RevokedTokens(ctx context.Context, jtis []string) ([]string, error) {
	var out []string
	const batch = 500 // well under SQLite's limit on parameters
	for len(jtis) > 0 {
		n := min(len(jtis), batch)
		args := make([]any, n)
		for i, id := range jtis[:n] {
			args[i] = id
		}
		jtis = jtis[n:]
		rows, err := s.db.QueryContext(ctx, `SELECT jti FROM revoked_tokens WHERE jti IN (?`+strings.Repeat(`,?`, n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("revoked tokens: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("revoked tokens: %w", err)
			}
			out = append(out, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("revoked tokens: %w", err)
		}
	}
	return out, nil
}

// PutLoginCode stores the hash of a one-time login code.
func (s *Store) PutLoginCode(ctx context.Context, hash, userID string, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO login_codes(hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hash, userID, millis(time.Now()), millis(expires))
	if err != nil {
		return fmt.Errorf("store login code: %w", err)
	}
	return nil
}

// ErrCodeUsed and ErrCodeExpired say why a login code was refused.
var (
	ErrCodeUsed    = errors.New("login code already used")
	ErrCodeExpired = errors.New("login code expired")
)

// UseLoginCode marks a code used and returns its user. The update is a single
// conditional statement, so two concurrent uses cannot both succeed.
func (s *Store) UseLoginCode(ctx context.Context, hash string, now time.Time) (string, error) {
	var userID string
	err := s.db.QueryRowContext(ctx, `UPDATE login_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id`,
		millis(now), hash, millis(now)).Scan(&userID)
	if err == nil {
		return userID, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("use login code: %w", err)
	}
	var used sql.NullInt64
	var expires int64
	err = s.db.QueryRowContext(ctx, `SELECT used_at, expires_at FROM login_codes WHERE hash = ?`, hash).Scan(&used, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("login code: %w", ErrNotFound)
	case err != nil:
		return "", fmt.Errorf("use login code: %w", err)
	case used.Valid:
		return "", ErrCodeUsed
	default:
		return "", ErrCodeExpired
	}
}

// PurgeExpired deletes revoked-token and login-code rows past their expiry.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires_at < ?`, millis(now)); err != nil {
		return fmt.Errorf("purge revoked tokens: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM login_codes WHERE expires_at < ?`, millis(now.Add(-24*time.Hour))); err != nil {
		return fmt.Errorf("purge login codes: %w", err)
	}
	return nil
}
