package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is a codeterm account.
type User struct {
	ID          string
	Name        string
	GitHubLogin string
	CreatedAt   time.Time
	// TokensValidAfter: tokens issued before it are revoked.
	TokensValidAfter time.Time
}

// SSHKey is a public key that authenticates a user.
type SSHKey struct {
	ID          int64
	UserID      string
	Fingerprint string // SHA256:... as ssh-keygen -l prints it
	PublicKey   string // authorized_keys format, without comment
	Comment     string
	CreatedAt   time.Time
}

// CreateUser adds a user; ErrExists if the name is taken.
func (s *Store) CreateUser(ctx context.Context, name string) (*User, error) {
	u := &User{ID: NewID(), Name: name, CreatedAt: time.Now().UTC()}
	_, err := s.db.ExecContext(ctx, `INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)`,
		u.ID, u.Name, millis(u.CreatedAt))
	if isUnique(err) {
		return nil, fmt.Errorf("user %q: %w", name, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", name, err)
	}
	return u, nil
}

const userCols = `id, name, COALESCE(github_login, ''), created_at, tokens_valid_after`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var created, valid int64
	if err := row.Scan(&u.ID, &u.Name, &u.GitHubLogin, &created, &valid); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMillis(created)
	u.TokensValidAfter = fromMillis(valid)
	return &u, nil
}

func (s *Store) userWhere(ctx context.Context, what, cond string, arg any) (*User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+cond, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", what, err)
	}
	return u, nil
}

// UserByName finds a user by name.
func (s *Store) UserByName(ctx context.Context, name string) (*User, error) {
	return s.userWhere(ctx, fmt.Sprintf("%q", name), `name = ?`, name)
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (*User, error) {
	return s.userWhere(ctx, "id "+id, `id = ?`, id)
}

// UserByGitHubLogin finds the user linked to a GitHub login.
func (s *Store) UserByGitHubLogin(ctx context.Context, login string) (*User, error) {
	return s.userWhere(ctx, "github "+login, `github_login = ?`, login)
}

// SetGitHubLogin links a user to a GitHub login.
func (s *Store) SetGitHubLogin(ctx context.Context, userID, login string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE users SET github_login = ? WHERE id = ?`, login, userID)
	if isUnique(err) {
		return fmt.Errorf("github login %q: %w", login, ErrExists)
	}
	return err
}

// Users lists all users by name.
func (s *Store) Users(ctx context.Context) ([]*User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// DeleteUser removes a user and, by cascade, the user's keys, workspaces and sessions.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	return affected(res, err, "delete user "+id)
}

// RevokeUserTokens invalidates every token of the user issued up to now.
// JWT times have one-second resolution, so the cut-off is the next second.
func (s *Store) RevokeUserTokens(ctx context.Context, id string, now time.Time) (time.Time, error) {
	after := now.Truncate(time.Second).Add(time.Second)
	res, err := s.db.ExecContext(ctx, `UPDATE users SET tokens_valid_after = ? WHERE id = ?`, millis(after), id)
	return after, affected(res, err, "revoke tokens of user "+id)
}

// AddSSHKey stores a key for a user; ErrExists if the fingerprint is registered to anyone.
func (s *Store) AddSSHKey(ctx context.Context, k *SSHKey) error {
	k.CreatedAt = time.Now().UTC()
	res, err := s.db.ExecContext(ctx, `INSERT INTO ssh_keys(user_id, fingerprint, public_key, comment, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.UserID, k.Fingerprint, k.PublicKey, k.Comment, millis(k.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("key %s: %w", k.Fingerprint, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add key %s: %w", k.Fingerprint, err)
	}
	k.ID, _ = res.LastInsertId()
	return nil
}

// RemoveSSHKey deletes one of the user's keys by fingerprint.
func (s *Store) RemoveSSHKey(ctx context.Context, userID, fingerprint string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM ssh_keys WHERE user_id = ? AND fingerprint = ?`, userID, fingerprint)
	return affected(res, err, "remove key "+fingerprint)
}

// SSHKeys lists a user's keys.
func (s *Store) SSHKeys(ctx context.Context, userID string) ([]*SSHKey, error) {
	st, err := s.prepared(ctx, `SELECT id, user_id, fingerprint, public_key, comment, created_at FROM ssh_keys WHERE user_id = ? ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	rows, err := st.QueryContext(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []*SSHKey
	for rows.Next() {
		var k SSHKey
		var created int64
		if err := rows.Scan(&k.ID, &k.UserID, &k.Fingerprint, &k.PublicKey, &k.Comment, &created); err != nil {
			return nil, err
		}
		k.CreatedAt = fromMillis(created)
		out = append(out, &k)
	}
	return out, rows.Err()
}

// UserByKeyFingerprint finds the owner of a key. It is read on every SSH
// authentication, so keys added while the server runs work at once.
func (s *Store) UserByKeyFingerprint(ctx context.Context, fingerprint string) (*User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT u.id, u.name, COALESCE(u.github_login, ''), u.created_at, u.tokens_valid_after
		FROM users u JOIN ssh_keys k ON k.user_id = u.id WHERE k.fingerprint = ?`, fingerprint))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key %s: %w", fingerprint, ErrNotFound)
	}
	return u, err
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}
